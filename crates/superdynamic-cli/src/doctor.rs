//! `superdynamic doctor URL`: the library's diagnosis, printed as text or as its JSON document. Exit 0 when
//! nothing blocks sign-in, 3 when something does, 2 for an unusable URL.

use crate::Failure;
use crate::cli::{DoctorArgs, GlobalArgs};
use crate::commands::{options, server_url, static_clients};
use std::time::Duration;
use superdynamic::doctor::{self, DoctorOptions};
use superdynamic::http::OAuthTimeouts;
use superdynamic::{LoginOutcome, McpClient};

pub async fn run(global: &GlobalArgs, args: &DoctorArgs) -> Result<(), Failure> {
    let url = server_url(global, args.server.url.as_deref())?;
    let mut doctor = DoctorOptions {
        oauth_timeouts: OAuthTimeouts::from_request(Duration::from_secs(global.timeout.max(1))),
        allow_private_network: global.allow_private_network,
        pre_registered: static_clients(global)?.into_iter().map(|c| c.issuer.map(|i| i.as_str().to_string())).collect(),
        client_metadata_url: global.client_metadata_url.clone(),
        probe_registration: !args.no_register,
        ..DoctorOptions::default()
    };
    doctor.discovery_policy.allow_missing_pkce_metadata = global.allow_missing_pkce_metadata;
    if args.sign_in {
        let client = McpClient::new(&url, options(global)?).map_err(Failure::from_lib)?;
        if let LoginOutcome::SignedIn(record) = client.login().await.map_err(Failure::from_lib)? {
            if let Some(tokens) = &record.tokens {
                doctor.dpop = client.dpop_prover(tokens).map_err(Failure::from_lib)?;
            }
            doctor.bearer = record.tokens.map(|t| t.access_token);
        }
        client.close().await;
    }
    let report = doctor::diagnose(&url, &doctor).await.map_err(|e| Failure::usage(e.to_string()))?;
    if global.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| Failure::other(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", doctor::render_text(&report));
    }
    if report.passes() {
        Ok(())
    } else {
        let message = format!("sign-in to {url} is blocked: {} error(s) in the report above", report.summary.errors);
        Err(Failure { code: 3, message })
    }
}
