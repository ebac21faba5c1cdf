//! Library micro-benchmarks (bench/run.sh measurement 5), public APIs only:
//! WWW-Authenticate parsing, SSE parsing per MB, ES256 JWT verification (as the reference server does it, with
//! `jsonwebtoken` directly: verification is a server-side concern), credential store load and save, and the DPoP
//! proof a DPoP-bound request adds (RFC 9449).
use divan::{Bencher, black_box, counter::BytesCount};
use superdynamic::discovery::www_authenticate;
use superdynamic::store::{FileStore, StoreData};
use superdynamic::transport::{SseLimits, SseParser};

fn main() {
    divan::main();
}

// ---- WWW-Authenticate -------------------------------------------------------------------------------------------

const CHALLENGE_SIMPLE: &str =
    r#"Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#;
const CHALLENGE_FULL: &str = r#"Bearer realm="mcp", error="insufficient_scope", error_description="The request requires higher privileges than provided by the access token", scope="mcp:tools files:read profile:read", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", DPoP algs="ES256 RS256", Basic realm="legacy""#;

#[divan::bench(args = ["simple", "full"])]
fn www_authenticate_parse(bencher: Bencher, which: &str) {
    let header = if which == "simple" { CHALLENGE_SIMPLE } else { CHALLENGE_FULL };
    bencher.counter(BytesCount::of_str(header)).bench(|| www_authenticate::parse(black_box(header)));
}

// ---- SSE --------------------------------------------------------------------------------------------------------

/// About 1 MiB of MCP-like SSE events (`id`, `event`, one JSON-RPC `data` line each).
fn sse_stream() -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 20);
    let mut i = 0u64;
    while out.len() < (1 << 20) {
        let payload = format!(
            r#"{{"jsonrpc":"2.0","id":{i},"result":{{"content":[{{"type":"text","text":"Weather in Paris: 18 degrees, light rain, wind 12 km/h from the south-west; reading number {i}"}}],"isError":false}}}}"#
        );
        out.extend_from_slice(format!("id: {i}\nevent: message\ndata: {payload}\n\n").as_bytes());
        i += 1;
    }
    out
}

/// The whole stream fed in 16 KiB chunks (what a TCP read yields), events collected.
#[divan::bench(args = [16 * 1024, 1024])]
fn sse_parse_1mib(bencher: Bencher, chunk: usize) {
    let stream = sse_stream();
    bencher.counter(BytesCount::new(stream.len())).bench(|| {
        let mut parser = SseParser::new(SseLimits::default());
        let mut events = Vec::new();
        for piece in stream.chunks(chunk) {
            parser.feed(black_box(piece), &mut events).unwrap();
            events.clear();
        }
        parser.finish()
    });
}

// ---- DPoP (RFC 9449): what each request with a DPoP-bound token adds on the client -------------------------------

#[divan::bench(args = ["ES256", "EdDSA", "RS256"])]
fn dpop_proof(bencher: Bencher, alg: &str) {
    use superdynamic::dpop::{DpopAlg, DpopKey, DpopProver, NonceStore};
    let alg = match alg {
        "ES256" => DpopAlg::Es256,
        "EdDSA" => DpopAlg::EdDsa,
        _ => DpopAlg::Rs256,
    };
    let prover = DpopProver {
        key: std::sync::Arc::new(DpopKey::generate(alg).unwrap()),
        nonces: std::sync::Arc::new(NonceStore::new()),
    };
    let url = url::Url::parse("http://127.0.0.1:8000/mcp").unwrap();
    let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJkZW1vIn0.c2lnbmF0dXJlLXBsYWNlaG9sZGVyLXdpdGgtc29tZS1sZW5ndGg";
    bencher.bench(|| prover.proof("POST", black_box(&url), Some(black_box(token))).unwrap());
}

/// A new key: once per credential, at its first sign-in.
#[divan::bench(args = ["ES256", "EdDSA", "RS256"], sample_count = 20)]
fn dpop_key_generate(alg: &str) -> superdynamic::dpop::DpopKey {
    use superdynamic::dpop::{DpopAlg, DpopKey};
    let alg = match alg {
        "ES256" => DpopAlg::Es256,
        "EdDSA" => DpopAlg::EdDsa,
        _ => DpopAlg::Rs256,
    };
    DpopKey::generate(black_box(alg)).unwrap()
}

/// Reading the stored key back (once per process: the client caches the parsed key).
#[divan::bench]
fn dpop_key_from_store(bencher: Bencher) {
    use superdynamic::dpop::{DpopAlg, DpopKey};
    let secret = DpopKey::generate(DpopAlg::Es256).unwrap().to_secret();
    bencher.bench(|| DpopKey::from_secret(black_box(&secret)).unwrap());
}

// ---- JWT (ES256, as the reference server verifies access tokens) -------------------------------------------------

#[divan::bench]
fn jwt_es256_verify(bencher: Bencher) {
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
    let encoding = EncodingKey::from_ec_pem(include_bytes!("../es256.pem")).unwrap();
    let decoding = DecodingKey::from_ec_pem(include_bytes!("../es256.pub.pem")).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = serde_json::json!({
        "iss": "http://127.0.0.1:8000", "sub": "demo", "aud": "http://127.0.0.1:8000/mcp",
        "client_id": "c-0123456789", "scope": "mcp:tools files:read", "iat": now, "exp": now + 3600,
        "jti": "0f8fad5b-d9cb-469f-a165-70867728950e"
    });
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some("k1".into());
    let token = jsonwebtoken::encode(&header, &claims, &encoding).unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.leeway = 0;
    validation.set_issuer(&["http://127.0.0.1:8000"]);
    validation.set_audience(&["http://127.0.0.1:8000/mcp"]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    bencher.bench(|| {
        let header = jsonwebtoken::decode_header(black_box(&token)).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap()
    });
}

// ---- Credential store --------------------------------------------------------------------------------------------

/// A store with `records` credential records, made from a real one written by `superdynamic login`
/// (fixtures/credentials.json, or $SUPERDYNAMIC_BENCH_STORE).
fn store_with(records: usize) -> (tempfile::TempDir, FileStore) {
    let source = std::env::var("SUPERDYNAMIC_BENCH_STORE")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/credentials.json").to_owned());
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&source).unwrap()).unwrap();
    let template = doc["credentials"][0].clone();
    let mut all = Vec::new();
    for i in 0..records {
        let mut record = template.clone();
        record["server"] = serde_json::Value::String(format!("http://127.0.0.1:{}/mcp", 10000 + i));
        all.push(record);
    }
    doc["credentials"] = serde_json::Value::Array(all);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let store = FileStore::new(&path);
    store.read_document().expect("fixture store loads");
    (dir, store)
}

#[divan::bench(args = [1, 20])]
fn store_load(bencher: Bencher, records: usize) {
    let (_dir, store) = store_with(records);
    bencher.bench(|| store.read_document().unwrap());
}

/// Read-modify-write under the lock, with the write (temporary file, fsync, rename) that a token refresh does.
#[divan::bench(args = [1, 20])]
fn store_save(bencher: Bencher, records: usize) {
    let (_dir, store) = store_with(records);
    bencher.bench(|| {
        store
            .update(|data: &mut StoreData| {
                data.credentials[0].updated_at += 1;
                Ok::<_, superdynamic::store::StoreError>(())
            })
            .unwrap()
    });
}
