fn main() -> std::process::ExitCode {
    ferrota::cli::run()
}
