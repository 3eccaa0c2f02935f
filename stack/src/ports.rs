//! Free loopback ports.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::TcpListener;

/// Ports are chosen from here, below Linux's ephemeral range (32768–60999): a port the OS picked for `:0`
/// is one it also hands to outgoing connections, and with many processes connecting a chosen port was
/// taken before a slow starter (a JVM) bound it.
const RANGE: std::ops::Range<u16> = 20000..32768;

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> crate::Result<u16> {
    let [port] = free_ports()?;
    Ok(port)
}

/// `N` distinct free ports on 127.0.0.1 (all held at once while choosing, so no two are the same).
pub fn free_ports<const N: usize>() -> crate::Result<[u16; N]> {
    let mut held: Vec<TcpListener> = Vec::with_capacity(N);
    let span = u64::from(RANGE.end - RANGE.start);
    let start = RandomState::new().hash_one(0u8);
    for attempt in 0u64.. {
        if held.len() == N {
            break;
        }
        // A random start, then a stride through the range: stacks started at once rarely collide.
        let listener = if attempt < span {
            let offset = start.wrapping_add(attempt.wrapping_mul(7919)) % span;
            let port = RANGE.start + u16::try_from(offset).unwrap_or(0);
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(l) => l,
                Err(_) => continue,
            }
        } else {
            TcpListener::bind("127.0.0.1:0").map_err(crate::io("binding a free port"))?
        };
        held.push(listener);
    }
    let mut ports = [0u16; N];
    for (p, l) in ports.iter_mut().zip(&held) {
        *p = l
            .local_addr()
            .map_err(crate::io("reading a free port"))?
            .port();
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_outside_the_ephemeral_range() {
        let ports: [u16; 5] = free_ports().unwrap();
        for p in ports {
            assert!(RANGE.contains(&p), "{p}");
        }
        let mut sorted = ports.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 5, "{ports:?}");
    }
}
