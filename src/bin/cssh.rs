fn main() -> std::process::ExitCode {
    cssh::cli::main(std::env::args_os())
}
