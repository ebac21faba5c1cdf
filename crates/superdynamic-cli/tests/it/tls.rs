//! The CLI over https: the platform's trust roots decide (here a test CA given as SSL_CERT_FILE, which the
//! platform verifier reads on Linux), and an untrusted certificate is refused with a clear error.

use crate::common::{Env, run_with};
use superdynamic_server::{ServerConfig, TlsFiles};

#[cfg(all(unix, not(target_os = "macos")))]
#[tokio::test(flavor = "multi_thread")]
async fn https_servers_are_verified_against_the_platform_roots() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, certified.cert.pem()).unwrap();
    std::fs::write(&key_pem, certified.signing_key.serialize_pem()).unwrap();
    let env = Env::with(ServerConfig {
        tls: Some(TlsFiles { cert_pem: cert_pem.clone(), key_pem }),
        ..ServerConfig::default()
    })
    .await;
    assert!(env.url().starts_with("https://127.0.0.1:"));

    let file = ("SUPERDYNAMIC_STORE", Some("file"));
    let trusted = [file, ("SSL_CERT_FILE", cert_pem.to_str()), ("SSL_CERT_DIR", Some("/nonexistent"))];
    let run = run_with(&env.store(), &["tools", &env.url(), "--auto-authorize"], &trusted).await;
    run.ok();
    assert!(run.stdout.contains("get_weather"), "{}", run.stdout);

    let other = dir.path().join("other.pem");
    let stranger = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    std::fs::write(&other, stranger.cert.pem()).unwrap();
    let untrusted = [file, ("SSL_CERT_FILE", other.to_str()), ("SSL_CERT_DIR", Some("/nonexistent"))];
    let run = run_with(&env.dir.path().join("fresh/credentials.json"), &["tools", &env.url()], &untrusted).await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.to_lowercase().contains("certificate"), "{}", run.stderr);
    env.stop().await;
}
