//! The MCP protocol generation a server speaks, remembered in the credential store so the next run goes
//! straight to it (MCP 2026-07-28 basic/versioning.mdx).

use super::McpClient;

impl McpClient {
    /// Hands the generation the store remembers for this server to the transport, once, before the first
    /// request (MCP 2026-07-28 §Versioning). A store that cannot say costs only a probe.
    pub(super) async fn recall_generation(&self) {
        self.recalled
            .get_or_init(|| async {
                if self.options.generation.is_some() {
                    return;
                }
                match self.options.store.generation(&self.server).await {
                    Ok(Some(generation)) => {
                        self.transport.assume_generation(generation);
                        if let Ok(mut remembered) = self.remembered.lock() {
                            *remembered = Some(generation);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::debug!(error = %e, "could not read the remembered protocol generation"),
                }
            })
            .await;
    }

    /// Stores the negotiated generation when it differs from what the store knew (best effort: a store that
    /// cannot be written costs only a probe next time).
    pub(super) async fn remember_generation(&self) {
        let Some(current) = self.transport.generation() else { return };
        let known = self.remembered.lock().map(|r| *r == Some(current)).unwrap_or(true);
        if known || self.options.generation.is_some() {
            return;
        }
        match self.options.store.remember_generation(&self.server, current).await {
            Ok(()) => {
                if let Ok(mut remembered) = self.remembered.lock() {
                    *remembered = Some(current);
                }
            }
            Err(e) => tracing::debug!(error = %e, "could not remember the protocol generation"),
        }
    }
}
