//! The MCP sessions of the 2025-11-25 lifecycle as `/mcp` sees them (rmcp keeps the sessions themselves):
//! - who opened each one: a session is only usable with tokens of the same user (MCP Security Best Practices
//!   §Session Hijacking);
//! - when it was last used: a session unused for [`IDLE_TIMEOUT`] is closed. This replaces rmcp's own idle
//!   timer, which cannot see the `tools/call` requests answered without rmcp ([`crate::mcp::direct_call`]);
//! - the last few answers given without rmcp, so a client that lost one can resume its SSE stream with
//!   `Last-Event-ID` (Streamable HTTP §Resumability and Redelivery), as rmcp allows for its own streams.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;

/// rmcp's default session keep-alive (`SessionConfig::DEFAULT_KEEP_ALIVE`).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long an answer stays available for resumption (rmcp's `DEFAULT_COMPLETED_CACHE_TTL`).
const REPLAY_TTL: Duration = Duration::from_secs(60);
/// Answers kept per session for resumption (rmcp's default channel capacity).
const REPLAY_CAPACITY: usize = 16;
/// Stream numbers of direct answers start here, far above rmcp's own per-session counter (which starts at 0),
/// so an event id names one stream only.
pub const FIRST_DIRECT_STREAM: u64 = 1 << 63;

/// One SSE stream answered without rmcp: its whole body, and where its response event starts (after the
/// priming event).
struct Answer {
    stream: u64,
    at: Instant,
    body: Bytes,
    response_at: usize,
}

pub struct McpSession {
    /// The token subject that opened the session; `None` for a session only rmcp knew of (then anyone may use
    /// it, as before this registry existed: it cannot happen for sessions opened through `/mcp`).
    owner: Option<String>,
    /// Milliseconds since the registry's epoch.
    last_used_ms: AtomicU64,
    next_stream: AtomicU64,
    answers: Mutex<VecDeque<Answer>>,
}

impl McpSession {
    fn new(owner: Option<String>, now_ms: u64) -> Self {
        Self {
            owner,
            last_used_ms: AtomicU64::new(now_ms),
            next_stream: AtomicU64::new(FIRST_DIRECT_STREAM),
            answers: Mutex::default(),
        }
    }

    pub fn usable_by(&self, subject: &str) -> bool {
        self.owner.as_deref().is_none_or(|owner| owner == subject)
    }

    /// A number for a new direct SSE stream in this session.
    pub fn next_stream(&self) -> u64 {
        self.next_stream.fetch_add(1, Ordering::Relaxed)
    }

    /// Keeps `body` (one stream: priming event, then the response event at `response_at`) for resumption.
    pub fn remember_answer(&self, stream: u64, body: Bytes, response_at: usize) {
        let now = Instant::now();
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        while answers.len() >= REPLAY_CAPACITY
            || answers.front().is_some_and(|a| now.duration_since(a.at) >= REPLAY_TTL)
        {
            answers.pop_front();
        }
        answers.push_back(Answer { stream, at: now, body, response_at });
    }

    /// The events of direct stream `stream` to send again after event `index` of it, as rmcp replays its own:
    /// every cached event from position `index` on (so `0` repeats the priming event too). `None` when the
    /// stream is unknown or expired.
    pub fn replay(&self, stream: u64, index: u64) -> Option<Bytes> {
        let answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        let answer = answers.iter().find(|a| a.stream == stream && a.at.elapsed() < REPLAY_TTL)?;
        Some(match index {
            0 => answer.body.clone(),
            1 => answer.body.slice(answer.response_at..),
            _ => Bytes::new(),
        })
    }
}

/// Every session, by `Mcp-Session-Id`.
pub struct McpSessions {
    epoch: Instant,
    sessions: RwLock<HashMap<Arc<str>, Arc<McpSession>>>,
}

impl Default for McpSessions {
    fn default() -> Self {
        Self { epoch: Instant::now(), sessions: RwLock::default() }
    }
}

impl McpSessions {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A session rmcp just opened for `owner` (the `initialize` response named it).
    pub fn opened(&self, id: &str, owner: &str) {
        let session = Arc::new(McpSession::new(Some(owner.to_owned()), self.now_ms()));
        self.sessions.write().unwrap_or_else(|e| e.into_inner()).insert(id.into(), session);
    }

    /// The client ended the session (`DELETE`).
    pub fn closed(&self, id: &str) {
        self.sessions.write().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    pub fn get(&self, id: &str) -> Option<Arc<McpSession>> {
        self.sessions.read().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    /// A request of the session's user arrived: it is in use.
    pub fn used(&self, session: &McpSession) {
        session.last_used_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Brings the registry in line with the sessions rmcp has (`live`): forgets the ones rmcp no longer has,
    /// adopts unknown ones as just used, and returns those idle for `idle` or longer, for the caller to close.
    pub fn sweep(&self, live: &[Arc<str>], idle: Duration) -> Vec<Arc<str>> {
        let now = self.now_ms();
        let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
        let alive: HashSet<&str> = live.iter().map(|id| &**id).collect();
        let mut sessions = self.sessions.write().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|id, _| alive.contains(&**id));
        let mut expired = Vec::new();
        for id in live {
            let session = sessions.entry(id.clone()).or_insert_with(|| Arc::new(McpSession::new(None, now)));
            if now.saturating_sub(session.last_used_ms.load(Ordering::Relaxed)) >= idle_ms {
                expired.push(id.clone());
            }
        }
        for id in &expired {
            sessions.remove(id);
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_belongs_to_its_opener() {
        let sessions = McpSessions::default();
        sessions.opened("s1", "alice");
        let s = sessions.get("s1").unwrap();
        assert!(s.usable_by("alice"));
        assert!(!s.usable_by("mallory"));
        sessions.closed("s1");
        assert!(sessions.get("s1").is_none());
    }

    #[test]
    fn sweeping_follows_rmcp_and_closes_idle_sessions() {
        let sessions = McpSessions::default();
        sessions.opened("gone", "alice");
        sessions.opened("busy", "alice");
        let live: Vec<Arc<str>> = vec!["busy".into(), "adopted".into()];
        assert!(sessions.sweep(&live, IDLE_TIMEOUT).is_empty());
        assert!(sessions.get("gone").is_none(), "rmcp closed it");
        let adopted = sessions.get("adopted").unwrap();
        assert!(adopted.usable_by("anyone"), "no known owner");
        // With a zero idle time everything not used since is idle.
        std::thread::sleep(Duration::from_millis(2));
        let mut expired = sessions.sweep(&live, Duration::from_millis(1));
        expired.sort();
        assert_eq!(expired, vec![Arc::<str>::from("adopted"), Arc::<str>::from("busy")]);
        assert!(sessions.get("busy").is_none());
    }

    #[test]
    fn use_keeps_a_session_alive() {
        let sessions = McpSessions::default();
        sessions.opened("s", "alice");
        let live: Vec<Arc<str>> = vec!["s".into()];
        std::thread::sleep(Duration::from_millis(30));
        sessions.used(&sessions.get("s").unwrap());
        assert!(sessions.sweep(&live, Duration::from_millis(20)).is_empty());
    }

    #[test]
    fn answers_replay_like_rmcp_streams() {
        let session = McpSession::new(Some("alice".into()), 0);
        let first = session.next_stream();
        assert_eq!(first, FIRST_DIRECT_STREAM);
        let body = Bytes::from_static(b"data: \nid: 0/N\nretry: 3000\n\ndata: {}\nid: 1/N\n\n");
        session.remember_answer(first, body.clone(), 28);
        assert_eq!(session.replay(first, 0).unwrap(), body);
        assert_eq!(&session.replay(first, 1).unwrap()[..], b"data: {}\nid: 1/N\n\n");
        assert!(session.replay(first, 2).unwrap().is_empty());
        assert!(session.replay(first + 1, 0).is_none());
        for _ in 0..REPLAY_CAPACITY {
            let n = session.next_stream();
            session.remember_answer(n, Bytes::new(), 0);
        }
        assert!(session.replay(first, 0).is_none(), "only the latest answers are kept");
    }
}
