//! `keyward`: the server and its command-line client in one binary.
//!
//! Exit codes: 0 success, 1 failure (including "signature invalid"), 2 usage error.
#![forbid(unsafe_code)]

mod age_layer;
mod backup_cmds;
mod bench;
mod cli;
mod client_cmds;
mod doctor_cmd;
mod drill;
mod local;
mod output;
mod pki_cmds;
mod progress;
mod server_cmd;
mod upgrade_cmd;

use clap::Parser;

/// A failure that has already been reported and only needs its exit code.
#[derive(Debug)]
pub struct Exit(pub i32);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}
impl std::error::Error for Exit {}

fn main() {
    // `keyward key list | head` closes our stdout early; printing then fails. That is the reader's
    // choice, not an error of ours: leave quietly, as a program killed by SIGPIPE would.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg =
            payload.downcast_ref::<String>().map(String::as_str).or_else(|| payload.downcast_ref::<&str>().copied());
        if msg.is_some_and(|m| m.contains("Broken pipe")) {
            std::process::exit(141);
        }
        default_hook(info);
    }));
    let cli = cli::Cli::parse();
    let is_server = matches!(cli.command, cli::Command::Server(_));
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| if is_server { "info".into() } else { "warn".into() });
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in log files and journals.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let format = cli.global.format;
    let result = runtime.block_on(run(cli));
    match result {
        Ok(()) => {}
        Err(e) => {
            if let Some(Exit(code)) = e.downcast_ref::<Exit>() {
                std::process::exit(*code);
            }
            if format == cli::Format::Json {
                let code = e.downcast_ref::<keyward_client::Error>().and_then(|c| c.code()).unwrap_or("error");
                println!("{}", serde_json::json!({"error": {"code": code, "message": format!("{e:#}")}}));
            } else {
                eprintln!("error: {e:#}");
            }
            std::process::exit(1);
        }
    }
}

async fn run(cli: cli::Cli) -> anyhow::Result<()> {
    use cli::Command;
    match cli.command {
        Command::Server(args) => server_cmd::run(args).await,
        Command::Init(args) => local::init(&cli.global, args),
        Command::Operator(cmd) => client_cmds::operator(&cli.global, cmd).await,
        Command::Key(cmd) => client_cmds::key(&cli.global, cmd).await,
        Command::Token(cmd) => client_cmds::token(&cli.global, cmd).await,
        Command::Audit(cli::AuditCmd::Verify { data_dir: Some(dir) }) => local::audit_verify(&cli.global, &dir),
        Command::Audit(cli::AuditCmd::Verify { data_dir: None }) => client_cmds::audit_verify(&cli.global).await,
        Command::Backup(cmd) => backup_cmds::backup(&cli.global, cmd).await,
        Command::Restore(args) => backup_cmds::restore(&cli.global, args).await,
        Command::Drill(args) => drill::run(&cli.global, args).await,
        Command::Org(cli::OrgCmd::List) => client_cmds::org_list(&cli.global).await,
        Command::Upgrade(args) => upgrade_cmd::run(&cli.global, args),
        Command::Doctor(args) => doctor_cmd::run(&cli.global, args).await,
        Command::Component(cmd) => client_cmds::component(&cli.global, cmd).await,
        Command::Schedule(cmd) => client_cmds::schedule(&cli.global, cmd).await,
        Command::Bench(args) => bench::run(&cli.global, args).await,
        Command::Pki(cmd) => pki_cmds::run(&cli.global, cmd).await,
    }
}
