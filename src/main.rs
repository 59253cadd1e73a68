//! The `pinpanel` binary: parse the command line, set up logging, run.

use clap::Parser;

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
            // One clear line: clap's first line names the problem.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("error: invalid arguments");
            eprintln!("{first} (see pinpanel --help)");
            return std::process::ExitCode::from(2);
        }
    };
    let serving = matches!(cli.command, pinpanel::config::Command::Serve(_));
    pinpanel::telemetry::init(if serving {
        "info,sqlx=warn,tower_sessions=warn,tower_sessions_core=warn"
    } else {
        "warn"
    });
    match pinpanel::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
