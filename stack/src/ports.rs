//! Free loopback ports.

use std::net::TcpListener;

/// A port that was free a moment ago on 127.0.0.1. The OS hands out ephemeral ports round-robin, so a port
/// just released is unlikely to be handed out again before the caller binds it.
pub fn free_port() -> crate::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(crate::io("binding a free port"))?;
    Ok(l.local_addr()
        .map_err(crate::io("reading a free port"))?
        .port())
}
