fn main() -> std::process::ExitCode {
    cssh::wrapper::main(cssh::wrapper::Tool::Sftp, std::env::args_os())
}
