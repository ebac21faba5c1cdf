//! Where OAuth traffic may go: a defence against server-side request forgery by a hostile MCP or authorization
//! server (MCP Security Best Practices §Server-Side Request Forgery; RFC 9728 §7.7; RFC 8414 §6).
//!
//! A public MCP server must not be able to point discovery (protected resource metadata, authorization server
//! metadata, registration, token and revocation endpoints, and the redirects on the way) at this machine, its
//! private network or the cloud metadata service. The rule compares where the MCP server itself is with where a
//! URL leads:
//!
//! | target address          | public server | private server | loopback server | `allow_private_network` |
//! |-------------------------|---------------|----------------|-----------------|-------------------------|
//! | public                  | yes           | yes            | yes             | yes                     |
//! | private (RFC 1918, ULA, CGNAT) | no     | yes            | yes             | yes                     |
//! | loopback                | no            | no             | yes             | yes                     |
//! | link-local              | no            | no             | no              | yes                     |
//! | cloud metadata          | no            | no             | no              | no                      |
//! | reserved (0/8, multicast, broadcast, 240/4, documentation) | no | no | no | no                  |
//!
//! The MCP server's class is that of its *most public* address, so a name that resolves to one public and one
//! private address does not open the private network. Names are checked in the DNS resolver the HTTP client
//! uses, so the addresses checked are the addresses connected to (no rebinding between check and connect);
//! IP literals, which never reach a resolver, are checked before each request and in the redirect policy.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use url::{Host, Url};

/// What kind of network an address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    Public,
    /// RFC 1918, IPv6 unique local (fc00::/7), carrier-grade NAT (100.64/10), benchmarking (198.18/15).
    Private,
    /// 127/8, ::1.
    Loopback,
    /// 169.254/16 and fe80::/10, other than the metadata addresses.
    LinkLocal,
    /// 169.254.169.254, 169.254.170.2, fd00:ec2::254, 100.100.100.200: cloud instance metadata services.
    CloudMetadata,
    /// Unspecified, multicast, broadcast, 0/8, 240/4, IETF and documentation ranges: never a real server.
    Reserved,
}

impl AddressClass {
    /// How far inside the user's network the address is (public 0 … loopback 2); larger is more private.
    fn depth(self) -> u8 {
        match self {
            AddressClass::Public => 0,
            AddressClass::Private => 1,
            AddressClass::Loopback => 2,
            AddressClass::LinkLocal | AddressClass::CloudMetadata | AddressClass::Reserved => 3,
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressClass::Public => "public",
            AddressClass::Private => "private-network",
            AddressClass::Loopback => "loopback",
            AddressClass::LinkLocal => "link-local",
            AddressClass::CloudMetadata => "cloud metadata service",
            AddressClass::Reserved => "reserved",
        })
    }
}

/// Classifies an address. IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6 addresses are classified by the
/// IPv4 address they carry, so `::ffff:169.254.169.254` is the metadata service too.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let o = ip.octets();
    if matches!(o, [169, 254, 169, 254] | [169, 254, 170, 2] | [100, 100, 100, 200]) {
        return AddressClass::CloudMetadata;
    }
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || o[0] >= 240
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
    {
        AddressClass::Reserved
    } else if ip.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) || (o[0] == 198 && (o[1] & 0xfe) == 18) {
        AddressClass::Private
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let seg = ip.segments();
    if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
        return AddressClass::CloudMetadata;
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if ip.is_loopback() {
        return AddressClass::Loopback;
    }
    if ip.is_unspecified() || ip.is_multicast() {
        return AddressClass::Reserved;
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    // IPv4-compatible ::a.b.c.d (deprecated, RFC 4291 §2.5.5.1) and NAT64 64:ff9b::/96 (RFC 6052).
    if seg[..6] == [0; 6] || (seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0; 4]) {
        return classify_v4(embedded(seg[6], seg[7]));
    }
    // 6to4 2002:a.b.c.d::/48 (RFC 3056).
    if seg[0] == 0x2002 {
        return classify_v4(embedded(seg[1], seg[2]));
    }
    if (seg[0] & 0xffc0) == 0xfe80 {
        AddressClass::LinkLocal
    } else if (seg[0] & 0xfe00) == 0xfc00 {
        AddressClass::Private
    } else if seg[0] == 0x2001 && seg[1] == 0x0db8 {
        AddressClass::Reserved // documentation, RFC 3849
    } else {
        AddressClass::Public
    }
}

/// May a URL of class `target` be reached when the MCP server is of class `server`? See the module table.
pub fn permits(server: AddressClass, target: AddressClass, allow_private_network: bool) -> bool {
    match target {
        AddressClass::CloudMetadata | AddressClass::Reserved => false,
        AddressClass::Public => true,
        _ if allow_private_network => true,
        AddressClass::LinkLocal => false,
        AddressClass::Private | AddressClass::Loopback => server.depth() >= target.depth() && server.depth() <= 2,
    }
}

/// A classifier replacing [`classify`]: for tests that play a public server and a private network on loopback
/// addresses (127.0.0.1 "public", 127.0.0.2 "metadata" …). Never needed in production.
pub type AddressClassifier = fn(IpAddr) -> AddressClass;

/// A refused destination.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to connect to {host} ({address}): it is a {class} address and the MCP server is {server}, so a \
     server could use this to reach your own network (SSRF). If this is a private deployment you trust, pass \
     --allow-private-network (ClientOptions::allow_private_network)"
)]
pub struct Blocked {
    pub host: String,
    pub address: IpAddr,
    pub class: AddressClass,
    /// Where the MCP server is, as a phrase ("public", "on this machine" …).
    pub server: String,
}

/// The policy for one MCP server: its class (learned once) and the user's opt-in.
pub struct NetworkGuard {
    server_host: Option<String>,
    server_port: u16,
    allow_private_network: bool,
    classifier: AddressClassifier,
    server_class: OnceLock<AddressClass>,
    /// Connect through the environment's proxies ([`crate::ClientOptions::env_proxy`]).
    env_proxy: bool,
}

impl fmt::Debug for NetworkGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetworkGuard")
            .field("server_host", &self.server_host)
            .field("allow_private_network", &self.allow_private_network)
            .field("server_class", &self.server_class.get())
            .finish()
    }
}

impl NetworkGuard {
    pub fn new(server: &Url, allow_private_network: bool, classifier: Option<AddressClassifier>) -> Arc<Self> {
        Arc::new(Self::for_server(server, allow_private_network, classifier))
    }

    /// [`Self::new`] for clients that connect through the environment's proxies: the proxy resolves names, so
    /// only IP literals (and redirects to them) are checked here.
    pub fn with_env_proxy(
        server: &Url,
        allow_private_network: bool,
        classifier: Option<AddressClassifier>,
    ) -> Arc<Self> {
        Arc::new(Self { env_proxy: true, ..Self::for_server(server, allow_private_network, classifier) })
    }

    pub fn env_proxy(&self) -> bool {
        self.env_proxy
    }

    fn for_server(server: &Url, allow_private_network: bool, classifier: Option<AddressClassifier>) -> Self {
        let classifier = classifier.unwrap_or(classify);
        let guard = Self {
            server_host: server.host_str().map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string()),
            server_port: server.port_or_known_default().unwrap_or(443),
            allow_private_network,
            classifier,
            server_class: OnceLock::new(),
            env_proxy: false,
        };
        // Literals and `localhost` need no DNS: their class is known now (and in the synchronous redirect policy).
        match server.host() {
            Some(Host::Ipv4(ip)) => {
                let _ = guard.server_class.set(classifier(IpAddr::V4(ip)));
            }
            Some(Host::Ipv6(ip)) => {
                let _ = guard.server_class.set(classifier(IpAddr::V6(ip)));
            }
            Some(Host::Domain(d)) if is_localhost(d) => {
                let _ = guard.server_class.set(classifier(IpAddr::V4(Ipv4Addr::LOCALHOST)));
            }
            _ => {}
        }
        guard
    }

    /// A guard that allows what [`permits`] allows for a public server, for callers without an MCP server.
    pub fn allow_all() -> Arc<Self> {
        let guard = Self {
            server_host: None,
            server_port: 0,
            allow_private_network: true,
            classifier: classify,
            server_class: OnceLock::new(),
            env_proxy: false,
        };
        let _ = guard.server_class.set(AddressClass::Loopback);
        Arc::new(guard)
    }

    /// The MCP server's class: that of its most public address. Resolved once; an unresolvable name counts
    /// as public (the strictest), and the request to it fails on its own anyway.
    pub async fn server_class(&self) -> AddressClass {
        if let Some(class) = self.server_class.get() {
            return *class;
        }
        let class = match &self.server_host {
            Some(host) => match tokio::net::lookup_host((host.as_str(), self.server_port)).await {
                Ok(addrs) => {
                    addrs.map(|a| (self.classifier)(a.ip())).min_by_key(|c| c.depth()).unwrap_or(AddressClass::Public)
                }
                Err(_) => AddressClass::Public,
            },
            None => AddressClass::Public,
        };
        *self.server_class.get_or_init(|| class)
    }

    fn known_server_class(&self) -> AddressClass {
        self.server_class.get().copied().unwrap_or(AddressClass::Public)
    }

    fn is_server_host(&self, host: &str) -> bool {
        self.server_host.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(host))
    }

    fn check_ip_with(&self, server: AddressClass, host: &str, ip: IpAddr) -> Result<(), Blocked> {
        let class = (self.classifier)(ip);
        // The MCP server's own addresses are where the user asked to go.
        if permits(server, class, self.allow_private_network)
            || (self.is_server_host(host) && !matches!(class, AddressClass::CloudMetadata | AddressClass::Reserved))
        {
            return Ok(());
        }
        let server = match server {
            AddressClass::Public => "public".to_string(),
            AddressClass::Loopback => "on this machine".to_string(),
            other => format!("on a {other} address"),
        };
        Err(Blocked { host: host.to_string(), address: ip, class, server })
    }

    /// Checks a URL whose host is an IP literal (or `localhost`); names are checked when resolved.
    pub async fn check_url(&self, url: &Url) -> Result<(), Blocked> {
        let server = self.server_class().await;
        self.check_literal_with(server, url)
    }

    /// [`Self::check_url`] for the synchronous redirect policy: an unknown server class counts as public.
    pub fn check_url_now(&self, url: &Url) -> Result<(), Blocked> {
        self.check_literal_with(self.known_server_class(), url)
    }

    fn check_literal_with(&self, server: AddressClass, url: &Url) -> Result<(), Blocked> {
        match url.host() {
            Some(Host::Ipv4(ip)) => self.check_ip_with(server, &ip.to_string(), IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.check_ip_with(server, &ip.to_string(), IpAddr::V6(ip)),
            Some(Host::Domain(d)) if is_localhost(d) => self.check_ip_with(server, d, IpAddr::V4(Ipv4Addr::LOCALHOST)),
            _ => Ok(()),
        }
    }

    /// Resolves `host` and keeps the addresses the policy allows; refuses when none is left.
    pub async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let server = self.server_class().await;
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
        let mut first_refusal = None;
        let mut allowed = Vec::with_capacity(addrs.len());
        for addr in addrs {
            match self.check_ip_with(server, host, addr.ip()) {
                Ok(()) => allowed.push(addr),
                Err(e) => {
                    tracing::debug!(host, address = %addr.ip(), "address refused by the network policy");
                    first_refusal.get_or_insert(e);
                }
            }
        }
        match (allowed.is_empty(), first_refusal) {
            (true, Some(refusal)) => Err(Box::new(refusal)),
            _ => Ok(allowed),
        }
    }
}

fn is_localhost(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost")
}

/// The resolver given to reqwest: every name any request (or redirect) connects to passes the guard.
pub(crate) struct GuardedResolver(pub Arc<NetworkGuard>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = guard.resolve(&host).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Finds a [`Blocked`] in an error's source chain (reqwest wraps resolver and redirect-policy errors).
pub fn find_blocked(err: &(dyn std::error::Error + 'static)) -> Option<Blocked> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(blocked) = e.downcast_ref::<Blocked>() {
            return Some(blocked.clone());
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddressClass::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_are_classified() {
        for (addr, class) in [
            ("8.8.8.8", Public),
            ("1.1.1.1", Public),
            ("2606:4700::1111", Public),
            ("10.0.0.1", Private),
            ("172.16.5.4", Private),
            ("192.168.1.1", Private),
            ("100.64.0.1", Private),
            ("198.18.0.1", Private),
            ("fd12:3456::1", Private),
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("::1", Loopback),
            ("169.254.1.1", LinkLocal),
            ("fe80::1", LinkLocal),
            ("169.254.169.254", CloudMetadata),
            ("169.254.170.2", CloudMetadata),
            ("fd00:ec2::254", CloudMetadata),
            ("100.100.100.200", CloudMetadata),
            ("::ffff:169.254.169.254", CloudMetadata),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:127.0.0.1", Loopback),
            ("64:ff9b::a9fe:a9fe", CloudMetadata),
            ("2002:c0a8:0101::1", Private),
            ("::7f00:1", Loopback),
            ("0.0.0.0", Reserved),
            ("::", Reserved),
            ("0.1.2.3", Reserved),
            ("255.255.255.255", Reserved),
            ("224.0.0.1", Reserved),
            ("ff02::1", Reserved),
            ("240.0.0.1", Reserved),
            ("192.0.2.7", Reserved),
            ("2001:db8::1", Reserved),
        ] {
            assert_eq!(classify(ip(addr)), class, "{addr}");
        }
    }

    #[test]
    fn the_policy_table() {
        // Public servers reach only public addresses; private ones their network; loopback ones this machine.
        assert!(permits(Public, Public, false));
        assert!(!permits(Public, Private, false));
        assert!(!permits(Public, Loopback, false));
        assert!(!permits(Public, LinkLocal, false));
        assert!(permits(Private, Private, false));
        assert!(!permits(Private, Loopback, false));
        assert!(permits(Loopback, Loopback, false));
        assert!(permits(Loopback, Private, false));
        assert!(!permits(Loopback, LinkLocal, false));
        // The opt-in opens private networks, never the metadata service or reserved ranges.
        assert!(permits(Public, Private, true));
        assert!(permits(Public, Loopback, true));
        assert!(permits(Public, LinkLocal, true));
        for server in [Public, Private, Loopback, LinkLocal] {
            for opt_in in [false, true] {
                assert!(!permits(server, CloudMetadata, opt_in));
                assert!(!permits(server, Reserved, opt_in));
            }
        }
    }

    #[tokio::test]
    async fn literal_urls_are_checked_against_the_servers_class() {
        let public = NetworkGuard::new(&Url::parse("https://8.8.8.8/mcp").unwrap(), false, None);
        let refused = public.check_url(&Url::parse("https://169.254.169.254/latest").unwrap()).await.unwrap_err();
        assert_eq!(refused.class, CloudMetadata);
        let msg = refused.to_string();
        assert!(msg.contains("cloud metadata service") && msg.contains("--allow-private-network"), "{msg}");
        assert!(public.check_url(&Url::parse("http://127.0.0.1:9/x").unwrap()).await.is_err());
        assert!(public.check_url(&Url::parse("http://localhost:9/x").unwrap()).await.is_err());
        assert!(public.check_url(&Url::parse("https://[fd00::1]/x").unwrap()).await.is_err());
        assert!(public.check_url(&Url::parse("https://1.1.1.1/x").unwrap()).await.is_ok());
        // Names are left to the resolver.
        assert!(public.check_url(&Url::parse("https://as.example/x").unwrap()).await.is_ok());

        let local = NetworkGuard::new(&Url::parse("http://127.0.0.1:8000/mcp").unwrap(), false, None);
        assert!(local.check_url_now(&Url::parse("http://localhost:9/x").unwrap()).is_ok());
        assert!(local.check_url_now(&Url::parse("https://169.254.169.254/").unwrap()).is_err());

        let opted_in = NetworkGuard::new(&Url::parse("https://8.8.8.8/mcp").unwrap(), true, None);
        assert!(opted_in.check_url(&Url::parse("https://10.0.0.1/x").unwrap()).await.is_ok());
        assert!(opted_in.check_url(&Url::parse("https://169.254.169.254/x").unwrap()).await.is_err());
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses() {
        let public = NetworkGuard::new(&Url::parse("https://8.8.8.8/mcp").unwrap(), false, None);
        let err = public.resolve("localhost").await.unwrap_err();
        let blocked = find_blocked(err.as_ref()).unwrap();
        assert_eq!(blocked.class, Loopback);
        let local = NetworkGuard::new(&Url::parse("http://localhost:1/mcp").unwrap(), false, None);
        assert!(!local.resolve("localhost").await.unwrap().is_empty());
    }
}
