fn main() -> std::process::ExitCode {
    cwctl::main()
}
