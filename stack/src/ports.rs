//! Free loopback ports.

use std::net::TcpListener;

/// A port that was free a moment ago on 127.0.0.1. The OS hands out ephemeral ports round-robin, so a port
/// just released is unlikely to be handed out again before the caller binds it.
pub fn free_port() -> crate::Result<u16> {
    let [port] = free_ports()?;
    Ok(port)
}

/// `N` distinct free ports on 127.0.0.1 (all held at once while choosing, so no two are the same).
pub fn free_ports<const N: usize>() -> crate::Result<[u16; N]> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").map_err(crate::io("binding a free port")))
        .collect::<crate::Result<Vec<_>>>()?;
    let mut ports = [0u16; N];
    for (p, l) in ports.iter_mut().zip(&listeners) {
        *p = l
            .local_addr()
            .map_err(crate::io("reading a free port"))?
            .port();
    }
    Ok(ports)
}
