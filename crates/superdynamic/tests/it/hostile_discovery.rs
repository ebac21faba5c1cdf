//! Hostile servers during discovery: dangerous endpoints, mismatched identities, SSRF, and broken responses.
//! Each test asserts the specific error, that the store is untouched, and that no token went astray.

use crate::hostile_common;

use hostile_common::{Canned, Config, Hostile, Setup, options};
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use superdynamic::McpClient;
use superdynamic::authorization::{AuthorizationError, CallbackError};
use superdynamic::discovery::DiscoveryError;
use superdynamic::http::HttpError;
use superdynamic::ssrf::{AddressClass, classify};
use superdynamic::{Error, token::TokenError};

/// The control: the well-behaved server signs in and lists tools, and the token goes only to /mcp.
#[tokio::test]
async fn a_well_behaved_server_works() {
    let server = Hostile::start(Config::default()).await;
    let setup = Setup::new();
    let client = setup.client(&server);
    let tools = client.list_tools().await.unwrap();
    assert_eq!(tools.len(), 1);
    assert!(setup.store_text().unwrap().contains("AT-"));
    server.assert_no_token_leak(&server.issued_tokens());
    server.stop().await;
}

async fn expect_refusal(config: Config) -> (Error, Hostile, Setup) {
    let server = Hostile::start(config).await;
    let setup = Setup::new();
    let err = setup.client(&server).list_tools().await.unwrap_err();
    assert_eq!(setup.store_text(), None, "nothing may be stored after: {err}");
    // The refused sign-in never produced a request to the MCP server with a token.
    assert!(server.requests().iter().all(|r| r.authorization().is_none()), "{:?}", server.paths());
    server.assert_no_token_leak(&server.issued_tokens());
    (err, server, setup)
}

#[tokio::test]
async fn dangerous_authorization_endpoints_are_refused() {
    for bad in [
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "vbscript:msgbox(1)",
        "http://auth.example.com/authorize",
    ] {
        let config = Config { as_patch: Some(json!({"authorization_endpoint": bad})), ..Config::default() };
        let (err, server, _setup) = expect_refusal(config).await;
        match &err {
            Error::Discovery(DiscoveryError::InsecureEndpoint { field: "authorization_endpoint", url, .. }) => {
                assert_eq!(url, bad)
            }
            other => panic!("{bad}: {other}"),
        }
        assert!(err.to_string().contains("not https"), "{err}");
        assert_eq!(server.count("/register"), 0, "nothing is sent after a refused endpoint");
        server.stop().await;
    }
}

#[tokio::test]
async fn shell_metacharacters_in_an_endpoint_never_reach_a_shell() {
    let marker = std::env::temp_dir().join(format!("superdynamic-pwned-{}", std::process::id()));
    let payload = format!("/authorize$(touch%20{})`touch%20{}`;touch%20{}", marker.display(), marker.display(), {
        marker.display()
    });
    let server = Hostile::start(Config::default()).await;
    server.configure(|c| {
        c.as_patch = Some(json!({"authorization_endpoint": format!("{}{payload}", server.base)}));
    });
    let setup = Setup::new();
    let err = setup.client(&server).list_tools().await.unwrap_err();
    // The URL is fetched as a URL (a 404 page, so "needs a user"), never interpreted.
    assert!(matches!(err, Error::Authorization(AuthorizationError::NeedsUser { status: 404 })), "{err}");
    assert!(!marker.exists());
    assert_eq!(setup.store_text(), None);
    server.stop().await;
}

#[tokio::test]
async fn token_and_registration_endpoints_on_other_schemes_are_refused() {
    for (field, bad) in [
        ("token_endpoint", "ftp://127.0.0.1/token"),
        ("token_endpoint", "http://auth.example.com/token"),
        ("registration_endpoint", "file:///tmp/register"),
        ("registration_endpoint", "http://10.0.0.1/register"),
    ] {
        let config = Config { as_patch: Some(json!({ field: bad })), ..Config::default() };
        let (err, server, _setup) = expect_refusal(config).await;
        assert!(
            matches!(&err, Error::Discovery(DiscoveryError::InsecureEndpoint { field: f, .. }) if *f == field),
            "{field}={bad}: {err}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn an_issuer_mismatch_is_refused() {
    let config = Config { as_patch: Some(json!({"issuer": "http://127.0.0.1:1"})), ..Config::default() };
    let (err, server, _setup) = expect_refusal(config).await;
    assert!(matches!(err, Error::Discovery(DiscoveryError::IssuerMismatch { .. })), "{err}");
    assert_eq!(server.count("/register"), 0);
    server.stop().await;
}

#[tokio::test]
async fn a_resource_mismatch_is_refused() {
    let config = Config { prm_patch: Some(json!({"resource": "https://bank.example.com/mcp"})), ..Config::default() };
    let (err, server, _setup) = expect_refusal(config).await;
    assert!(matches!(err, Error::Discovery(DiscoveryError::ResourceMismatch { .. })), "{err}");
    assert!(err.to_string().contains("https://bank.example.com/mcp"), "{err}");
    assert_eq!(server.count("/.well-known/oauth-authorization-server"), 0, "{:?}", server.paths());
    server.stop().await;
}

#[tokio::test]
async fn an_iss_mix_up_on_the_redirect_is_refused_before_the_code_is_redeemed() {
    let config = Config { callback_iss: Some("https://attacker.example".into()), ..Config::default() };
    let (err, server, _setup) = expect_refusal(config).await;
    assert!(
        matches!(err, Error::Authorization(AuthorizationError::Callback(CallbackError::IssuerMismatch { .. }))),
        "{err}"
    );
    assert_eq!(server.count("/token"), 0, "the code must not be redeemed");
    server.stop().await;
}

#[tokio::test]
async fn a_second_authorization_server_in_the_list_is_never_contacted() {
    let other = Hostile::start(Config::default()).await;
    let server = Hostile::start(Config::default()).await;
    server.configure(|c| c.prm_patch = Some(json!({"authorization_servers": [server.base, other.base]})));
    let setup = Setup::new();
    setup.client(&server).list_tools().await.unwrap();
    assert!(other.requests().is_empty(), "{:?}", other.paths());
    server.assert_no_token_leak(&server.issued_tokens());
    other.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn garbage_and_duplicate_www_authenticate_headers_do_not_steer_discovery() {
    let decoy = Hostile::start(Config::default()).await;
    // Garbage only: ignored, so the well-known URLs are used and sign-in works.
    let server = Hostile::start(Config::default()).await;
    server.configure(|c| {
        c.www_authenticate = Some(vec![
            "\u{7f}garbage,,, ===\"unterminated".into(),
            "Basic realm=\"x\"".into(),
            "Bearer resource_metadata".into(),
        ])
    });
    let setup = Setup::new();
    setup.client(&server).list_tools().await.unwrap();
    server.stop().await;
    // Two Bearer challenges: the first is used; the second (a decoy) is never fetched.
    let server = Hostile::start(Config::default()).await;
    let first = format!("Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"", server.base);
    let second = format!("Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"", decoy.base);
    server.configure(|c| c.www_authenticate = Some(vec![first, second]));
    let setup = Setup::new();
    setup.client(&server).list_tools().await.unwrap();
    assert!(decoy.requests().is_empty(), "{:?}", decoy.paths());
    server.stop().await;
    decoy.stop().await;
}

fn canned(path: &str, answer: Canned) -> Config {
    let mut config = Config::default();
    config.canned.insert(path.into(), answer);
    config
}

const PRM: &str = "/.well-known/oauth-protected-resource/mcp";
const ASM: &str = "/.well-known/oauth-authorization-server";

#[tokio::test]
async fn huge_metadata_is_refused_without_reading_it_all() {
    let huge = format!("{{\"resource\":\"{}\"}}", "x".repeat(4 * 1024 * 1024));
    for path in [PRM, ASM] {
        let (err, server, _setup) =
            expect_refusal(canned(path, Canned::raw(200, "application/json", huge.clone()))).await;
        let text = err.to_string();
        assert!(text.contains("sent more than 262144 bytes"), "{path}: {text}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_huge_token_response_is_refused() {
    let huge = format!("{{\"access_token\":\"{}\",\"token_type\":\"Bearer\"}}", "A".repeat(1024 * 1024));
    let (err, server, _setup) = expect_refusal(canned("/token", Canned::raw(200, "application/json", huge))).await;
    assert!(matches!(err, Error::Token(TokenError::Http(HttpError::TooLarge { .. }))), "{err}");
    server.stop().await;
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let slow = Canned::json(200, json!({})).slow(Duration::from_secs(8));
    let started = std::time::Instant::now();
    let (err, server, _setup) = expect_refusal(canned(PRM, slow)).await;
    assert!(
        matches!(err, Error::Discovery(DiscoveryError::ProtectedResource { source: HttpError::Timeout { .. }, .. })),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(7), "the 3 s request timeout applies");
    server.stop().await;
}

#[tokio::test]
async fn an_endless_redirect_chain_is_cut() {
    let server = Hostile::start(Config::default()).await;
    let to_self = format!("{}{PRM}", server.base);
    server.configure(|c| {
        c.canned.insert(PRM.into(), Canned::redirect(&to_self));
    });
    let setup = Setup::new();
    let err = setup.client(&server).list_tools().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Discovery(DiscoveryError::ProtectedResource { source: HttpError::TooManyRedirects { .. }, .. })
        ),
        "{err}"
    );
    assert!(server.count(PRM) <= 6, "at most five redirects are followed: {}", server.count(PRM));
    assert_eq!(setup.store_text(), None);
    server.stop().await;
}

#[tokio::test]
async fn malformed_json_and_wrong_content_types_are_refused() {
    for answer in [
        Canned::raw(200, "application/json", "{\"issuer\": \"http://x\", "),
        Canned::raw(200, "text/html", "<html><body>Welcome!</body></html>"),
        Canned::raw(200, "application/json", "[1,2,3]"),
        Canned::raw(200, "application/json", vec![0xff, 0xfe, 0x00, 0x7b]),
    ] {
        let (err, server, _setup) = expect_refusal(canned(ASM, answer)).await;
        assert!(
            matches!(
                err,
                Error::Discovery(DiscoveryError::AuthorizationServer { source: HttpError::NotJson { .. }, .. })
            ),
            "{err}"
        );
        server.stop().await;
    }
}

// --- SSRF ---------------------------------------------------------------------------------------------------
//
// Tests run on loopback, so the network classes are played by loopback addresses through the documented test hook
// `ClientOptions::address_classifier`: 127.0.0.1 is "public" (the MCP server), 127.0.0.2 the cloud metadata
// service, 127.0.0.3 a private network. Everything else is classified as it really is.

fn play_networks(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) if v4 == Ipv4Addr::new(127, 0, 0, 1) => AddressClass::Public,
        IpAddr::V4(v4) if v4 == Ipv4Addr::new(127, 0, 0, 2) => AddressClass::CloudMetadata,
        IpAddr::V4(v4) if v4 == Ipv4Addr::new(127, 0, 0, 3) => AddressClass::Private,
        other => classify(other),
    }
}

fn public_client(setup: &Setup, server: &Hostile, allow_private_network: bool) -> McpClient {
    let mut options = options(&setup.store);
    options.address_classifier = Some(play_networks);
    options.allow_private_network = allow_private_network;
    McpClient::new(&server.mcp_url(), options).unwrap()
}

#[tokio::test]
async fn a_public_server_cannot_point_discovery_at_a_private_network() {
    let private = Hostile::start_on(Ipv4Addr::new(127, 0, 0, 3), Config::default()).await;
    let server = Hostile::start(Config::default()).await;
    server.configure(|c| c.prm_patch = Some(json!({"authorization_servers": [private.base]})));
    let setup = Setup::new();
    let err = public_client(&setup, &server, false).list_tools().await.unwrap_err();
    match &err {
        Error::Discovery(DiscoveryError::AuthorizationServer {
            source: HttpError::Blocked { blocked, .. }, ..
        }) => {
            assert_eq!(blocked.class, AddressClass::Private)
        }
        other => panic!("{other}"),
    }
    let text = err.to_string();
    assert!(text.contains("private-network address") && text.contains("--allow-private-network"), "{text}");
    assert!(private.requests().is_empty(), "{:?}", private.paths());
    assert_eq!(setup.store_text(), None);

    // The opt-in for private deployments lets the same discovery through.
    let setup = Setup::new();
    let _ = public_client(&setup, &server, true).list_tools().await;
    assert!(private.count(ASM) >= 1, "{:?}", private.paths());
    private.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn the_cloud_metadata_service_is_never_reached_even_with_the_opt_in() {
    let metadata = Hostile::start_on(Ipv4Addr::new(127, 0, 0, 2), Config::default()).await;
    let server = Hostile::start(Config::default()).await;
    let target = format!("{}/latest/meta-data/iam", metadata.base);
    server.configure(|c| c.www_authenticate = Some(vec![format!("Bearer resource_metadata=\"{target}\"")]));
    for opt_in in [false, true] {
        let setup = Setup::new();
        let err = public_client(&setup, &server, opt_in).list_tools().await.unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Discovery(DiscoveryError::ProtectedResource { source: HttpError::Blocked { .. }, .. })
            ),
            "{err}"
        );
        assert!(err.to_string().contains("cloud metadata service"), "{err}");
    }
    assert!(metadata.requests().is_empty(), "{:?}", metadata.paths());
    metadata.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn redirects_are_followed_only_within_the_policy() {
    let metadata = Hostile::start_on(Ipv4Addr::new(127, 0, 0, 2), Config::default()).await;
    let server = Hostile::start(Config::default()).await;
    let to_metadata = format!("{}/latest/meta-data/", metadata.base);
    server.configure(|c| {
        c.canned.insert(PRM.into(), Canned::redirect(&to_metadata));
    });
    let setup = Setup::new();
    let err = public_client(&setup, &server, false).list_tools().await.unwrap_err();
    assert!(
        matches!(&err, Error::Discovery(DiscoveryError::ProtectedResource { source: HttpError::Blocked { .. }, .. })),
        "{err}"
    );
    assert!(metadata.requests().is_empty(), "{:?}", metadata.paths());
    metadata.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn an_authorization_redirect_into_a_blocked_address_is_not_followed() {
    // Fetch mode follows the authorization endpoint's redirects itself: each hop is under the same policy.
    let metadata = Hostile::start_on(Ipv4Addr::new(127, 0, 0, 2), Config::default()).await;
    let server = Hostile::start(Config::default()).await;
    let to_metadata = format!("{}/latest/meta-data/", metadata.base);
    server.configure(|c| {
        c.canned.insert("/authorize".into(), Canned::redirect(&to_metadata));
    });
    let setup = Setup::new();
    let err = public_client(&setup, &server, false).list_tools().await.unwrap_err();
    assert!(matches!(&err, Error::Authorization(AuthorizationError::Http(HttpError::Blocked { .. }))), "{err}");
    assert!(metadata.requests().is_empty(), "{:?}", metadata.paths());
    assert!(setup.store_text().is_none(), "nothing stored");
    metadata.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn token_endpoints_on_blocked_addresses_are_refused_at_discovery() {
    let private = Hostile::start_on(Ipv4Addr::new(127, 0, 0, 3), Config::default()).await;
    let server = Hostile::start(Config::default()).await;
    server.configure(|c| c.as_patch = Some(json!({"token_endpoint": format!("{}/token", private.base)})));
    let setup = Setup::new();
    let err = public_client(&setup, &server, false).list_tools().await.unwrap_err();
    assert!(matches!(&err, Error::Discovery(DiscoveryError::BlockedEndpoint { field: "token_endpoint", .. })), "{err}");
    assert!(private.requests().is_empty());
    assert_eq!(server.count("/register"), 0);
    private.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn a_loopback_server_may_use_a_loopback_authorization_server() {
    // Without the test classifier, 127.0.0.1 is loopback: a loopback MCP server's loopback AS is allowed.
    let auth = Hostile::start(Config::default()).await;
    let server = Hostile::start(Config::default()).await;
    server.configure(|c| c.prm_patch = Some(json!({"authorization_servers": [auth.base]})));
    let setup = Setup::new();
    let client = setup.client(&server);
    client.list_tools().await.unwrap();
    assert!(auth.count("/token") >= 1);
    auth.stop().await;
    server.stop().await;
}

/// Discovery tells its observer each location in the spec's order with what it answered, and each document
/// it read: the path-inserted protected resource metadata (404 here), the root one, then RFC 8414.
#[tokio::test]
async fn discovery_tells_its_observer_every_location_in_order() {
    use superdynamic::discovery::{DiscoveryEvent, DiscoveryObserver, DiscoveryPolicy, Document, Origin};
    /// One GET: what for, why there, where, and the status.
    type Get = (Document, Origin, String, Option<u16>);
    #[derive(Default)]
    struct Seen(std::sync::Mutex<Vec<Get>>);
    impl DiscoveryObserver for Seen {
        fn event(&self, event: &DiscoveryEvent<'_>) {
            if let DiscoveryEvent::Fetched { document, origin, url, answer, .. } = event {
                self.0.lock().unwrap().push((*document, *origin, url.to_string(), answer.map(|a| a.status)));
            }
        }
    }
    let mut config = Config::default();
    config.canned.insert("/.well-known/oauth-protected-resource/mcp".into(), Canned::json(404, json!({})));
    let server = Hostile::start(config).await;
    let guard = superdynamic::ssrf::NetworkGuard::allow_all();
    let http = superdynamic::http::oauth_client(&Default::default(), guard.clone()).unwrap();
    let resource = superdynamic::resource::ResourceUri::parse(&server.mcp_url()).unwrap();
    let seen = Seen::default();
    let policy = DiscoveryPolicy::default();
    let found = superdynamic::discovery::discover_observed(
        &http,
        &resource,
        None,
        policy,
        &guard,
        Duration::from_secs(10),
        &seen,
    )
    .await
    .unwrap();
    assert_eq!(found.issuer.as_str(), server.base);
    let base = &server.base;
    assert_eq!(
        seen.0.into_inner().unwrap(),
        [
            (
                Document::ProtectedResource,
                Origin::WellKnown,
                format!("{base}/.well-known/oauth-protected-resource/mcp"),
                Some(404)
            ),
            (
                Document::ProtectedResource,
                Origin::WellKnown,
                format!("{base}/.well-known/oauth-protected-resource"),
                Some(200)
            ),
            (
                Document::AuthorizationServer,
                Origin::WellKnown,
                format!("{base}/.well-known/oauth-authorization-server"),
                Some(200)
            ),
        ]
    );
    server.stop().await;
}
