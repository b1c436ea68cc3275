fn main() -> std::process::ExitCode {
    cssh::wrapper::main(cssh::wrapper::Tool::Rsync, std::env::args_os())
}
