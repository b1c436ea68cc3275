fn main() -> std::process::ExitCode {
    cssh::wrapper::main(cssh::wrapper::Tool::Scp, std::env::args_os())
}
