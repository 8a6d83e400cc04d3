//! The `pgferry` binary.
fn main() -> std::process::ExitCode {
    pgferry_cli::main()
}
