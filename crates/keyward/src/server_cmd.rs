//! `keyward server`: opens the data directory, unseals if told how, and serves until SIGINT or
//! SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use base64::Engine as _;
use keyward_seal::NewSecret;
use keyward_service::{InitOptions, Service, UnsealInput};
use keyward_store::{DataDir, Store};

use crate::cli::ServerArgs;
use crate::local;

const DEV_LISTEN: &str = "127.0.0.1:7700";

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let mut kmip = None;
    let (data_dir, listen, tls, client_certs) = if let Some(path) = &args.config {
        let config = keyward_server::FileConfig::load(path)?;
        kmip = config.kmip.clone();
        let tls = config.tls.clone();
        if tls.is_none() {
            bail!(
                "{} has no [tls] section: a production server serves HTTPS only (use --dev for a local plain-HTTP server)",
                path.display()
            );
        }
        (
            args.data_dir.clone().unwrap_or(config.data_dir),
            args.listen.unwrap_or(config.listen),
            tls,
            config.client_cert,
        )
    } else if args.dev {
        let listen: SocketAddr = match args.listen {
            Some(l) => l,
            None => DEV_LISTEN.parse().context("the default dev address")?,
        };
        (args.data_dir.clone().unwrap_or_else(|| PathBuf::from("keyward-data")), listen, None, Vec::new())
    } else {
        eprintln!(
            "error: choose --dev (plain HTTP on loopback, for trying Keyward) or --config keyward.toml (production, TLS)"
        );
        return Err(crate::Exit(2).into());
    };
    if tls.is_none() && !listen.ip().is_loopback() {
        bail!("--dev serves plain HTTP and only on a loopback address (such as 127.0.0.1), not {listen}");
    }

    let dir = DataDir::new(&data_dir);
    let mut dev_secret = None;
    if !dir.is_initialized() {
        if !args.dev {
            bail!(
                "{} holds no initialised node: run keyward init --data-dir {} first",
                data_dir.display(),
                data_dir.display()
            );
        }
        let passphrase = keyward_crypto::random_secret(24)
            .map(|s| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s.expose()))?;
        let options = InitOptions {
            organization: "dev".into(),
            site: "local".into(),
            server_name: local::hostname(),
            secret: NewSecret::Passphrase(keyward_crypto::Secret::copy_from(passphrase.as_bytes())),
        };
        let (outcome, _) = local::initialize_dir(&dir, options, None, None)?;
        let token = String::from_utf8_lossy(outcome.root_token.expose()).into_owned();
        println!("Keyward dev server: initialised a new node in {}", data_dir.display());
        println!("  Root token:        {token}");
        println!("  Unseal passphrase: {passphrase}");
        println!(
            "Both are shown only this once. Next time, start with --unseal-passphrase-file or run keyward operator unseal."
        );
        dev_secret = Some(passphrase);
    }

    if args.upgrade {
        let _lock = dir.lock("upgrade")?;
        let report = crate::upgrade_cmd::upgrade_dir(&dir, false)?;
        crate::upgrade_cmd::print_report(crate::cli::Format::Table, &report, &data_dir);
    }
    let (_lock, store) = local::open_store(&dir, "server")?;
    let service = Arc::new(Service::new(store.clone() as Arc<dyn Store>)?);
    let svc = service.clone();
    let unseal = unseal_inputs(&args, dev_secret)?;
    if !unseal.is_empty() {
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            for input in unseal {
                svc.unseal(input).context("cannot unseal at start")?;
            }
            if svc.is_sealed() {
                bail!("the share files given at start are fewer than the threshold; the server would stay sealed");
            }
            Ok(())
        })
        .await??;
    }

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if let (Some(k), Some(t)) = (&kmip, &tls) {
        let config = keyward_server::tls::kmip_server_config(t)?;
        let bound =
            keyward_server::kmip::KmipBound::bind(service.clone(), k.listen, config, client_certs.clone()).await?;
        let addr = bound.local_addr().context("the KMIP listener has no address")?;
        println!("keyward: KMIP listening on {addr}");
        let mut stop = stop_rx.clone();
        tokio::spawn(bound.serve(async move {
            let _ = stop.changed().await;
        }));
    }
    let opts = keyward_server::ServerOptions { listen, data_dir: data_dir.clone(), tls, client_certs };
    let bound = keyward_server::bind(service.clone(), opts).await?;
    let addr = bound.local_addr().context("the listener has no address")?;
    println!(
        "keyward: listening on {}://{addr} ({})",
        bound.scheme(),
        if service.is_sealed() { "sealed" } else { "unsealed" }
    );
    let _ = std::io::stdout().flush();
    tracing::info!(%addr, sealed = service.is_sealed(), "serving");
    // Scheduled backups (the scheduler component): look every two seconds whether one is due.
    let scheduler = service.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            let svc = scheduler.clone();
            match tokio::task::spawn_blocking(move || svc.run_scheduled_backup_if_due()).await {
                Ok(Ok(Some(run))) => tracing::info!(run = run.id, outcome = %run.outcome, "scheduled backup"),
                Ok(Err(e)) => tracing::warn!(error = %e, "scheduled backup check failed"),
                _ => {}
            }
            // CRLs of the pki component are re-signed once half their validity has passed.
            let svc = scheduler.clone();
            match tokio::task::spawn_blocking(move || svc.pki_refresh_crls_if_due()).await {
                Ok(Ok(n)) if n > 0 => tracing::info!(crls = n, "re-signed CRLs"),
                Ok(Err(e)) => tracing::warn!(error = %e, "CRL refresh failed"),
                _ => {}
            }
        }
    });
    bound
        .serve(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        })
        .await?;
    drop(stop_rx);
    service.seal_now();
    store.close();
    tracing::info!("stopped");
    Ok(())
}

fn unseal_inputs(args: &ServerArgs, dev_secret: Option<String>) -> anyhow::Result<Vec<UnsealInput>> {
    let u = &args.unseal;
    Ok(if let Some(p) = dev_secret {
        vec![UnsealInput::Passphrase(keyward_crypto::Secret::from_vec(p.into_bytes()))]
    } else if let Some(p) = &u.unseal_passphrase_file {
        vec![UnsealInput::Passphrase(local::read_passphrase(p)?)]
    } else if let Some(k) = &u.unseal_key_file {
        vec![UnsealInput::KeyFile(local::read_secret_file(k, "key file")?)]
    } else if let Some(d) = &u.unseal_shares_dir {
        local::read_shares_dir(d)?.into_iter().map(UnsealInput::Share).collect()
    } else {
        Vec::new()
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
