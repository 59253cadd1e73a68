//! The `pinpanel` binary: parse the command line, set up logging, run.

use clap::Parser;

/// mimalloc instead of glibc's allocator: a request allocates and frees many small blocks on
/// whichever worker thread runs it, and under load glibc's malloc, free and consolidation were
/// a sixth of the server's time (docs/PERFORMANCE.md has the profile and the measure).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = match pinpanel::config::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return std::process::ExitCode::SUCCESS;
            }
            // One clear line: clap's message up to its usage block, folded onto one line.
            let text = e.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty() && !l.starts_with("Usage:"))
                .map(str::trim)
                .collect();
            eprintln!("{} (see pinpanel --help)", message.join(" "));
            return std::process::ExitCode::from(2);
        }
    };
    let serving = matches!(cli.command, pinpanel::config::Command::Serve(_));
    pinpanel::telemetry::init(
        if serving {
            "info,sqlx=warn,tower_sessions=warn,tower_sessions_core=warn"
        } else {
            "warn"
        },
        cli.log_format,
    );
    match pinpanel::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
