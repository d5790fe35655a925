//! Device names to socket addresses: IP literals as they are, `name.local` through mDNS
//! (falling back to the system resolver), anything else through the system resolver.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mdns_sd::{HostnameResolutionEvent, ServiceDaemon};

use super::errors::UploadError;

/// How long to wait for a `.local` name to answer.
const MDNS_TIMEOUT: Duration = Duration::from_secs(3);

/// Every address of every host, in order, without duplicates. Fails only if no host resolved.
pub fn resolve_all(hosts: &[String], port: u16) -> Result<Vec<SocketAddr>, UploadError> {
    let mut out: Vec<SocketAddr> = Vec::new();
    let mut last_error = None;
    for host in hosts {
        match resolve(host, port) {
            Ok(addrs) => {
                for addr in addrs {
                    if !out.contains(&addr) {
                        out.push(addr);
                    }
                }
            }
            Err(e) => last_error = Some(e),
        }
    }
    match (out.is_empty(), last_error) {
        (true, Some(e)) => Err(e),
        (true, None) => Err(UploadError::Resolve { host: hosts.join(", "), message: "no device given".into() }),
        _ => Ok(out),
    }
}

/// Splits `host:port` (or `[v6]:port`); a bare host or IPv6 literal has no port.
pub fn split_port(spec: &str) -> (&str, Option<u16>) {
    if let Some((host, port)) = spec.rsplit_once(':') {
        let bracketed = host.starts_with('[') && host.ends_with(']');
        if let (true, Ok(port)) = (bracketed || !host.contains(':'), port.parse::<u16>()) {
            return (host.trim_start_matches('[').trim_end_matches(']'), Some(port));
        }
    }
    (spec, None)
}

/// The addresses of one device: `host`, `host:port` or `[v6]:port` (the port overrides `port`).
pub fn resolve(spec: &str, port: u16) -> Result<Vec<SocketAddr>, UploadError> {
    let (host, own_port) = split_port(spec);
    let port = own_port.unwrap_or(port);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let mut addrs = Vec::new();
    let mut mdns_error = None;
    if host.trim_end_matches('.').ends_with(".local") {
        match mdns(host) {
            Ok(ips) => addrs.extend(ips.into_iter().map(|ip| SocketAddr::new(ip, port))),
            Err(e) => mdns_error = Some(e),
        }
    }
    if addrs.is_empty() {
        match (host, port).to_socket_addrs() {
            Ok(found) => addrs.extend(found),
            Err(e) => {
                let message = match mdns_error {
                    Some(m) => format!("mDNS: {m}; DNS: {e}"),
                    None => e.to_string(),
                };
                return Err(UploadError::Resolve { host: host.to_owned(), message });
            }
        }
    }
    // IPv4 first: ESPHome devices listen on IPv4, IPv6 support is optional.
    addrs.sort_by_key(|a| a.is_ipv6());
    Ok(addrs)
}

/// Asks the local network who `name.local` is.
fn mdns(host: &str) -> Result<Vec<IpAddr>, String> {
    let fqdn = if host.ends_with('.') { host.to_owned() } else { format!("{host}.") };
    let daemon = ServiceDaemon::new().map_err(|e| e.to_string())?;
    let receiver = daemon.resolve_hostname(&fqdn, Some(MDNS_TIMEOUT.as_millis() as u64)).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + MDNS_TIMEOUT;
    let mut found: HashSet<IpAddr> = HashSet::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match receiver.recv_timeout(left) {
            Ok(HostnameResolutionEvent::AddressesFound(_, ips)) => {
                found.extend(ips.iter().map(|ip| ip.to_ip_addr()));
                break;
            }
            Ok(HostnameResolutionEvent::SearchTimeout(_) | HostnameResolutionEvent::SearchStopped(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let _ = daemon.shutdown();
    if found.is_empty() {
        return Err("no answer".into());
    }
    let mut ips: Vec<IpAddr> = found.into_iter().collect();
    ips.sort();
    Ok(ips)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_need_no_lookup() {
        assert_eq!(resolve("192.168.1.7", 3232).unwrap(), ["192.168.1.7:3232".parse().unwrap()]);
        assert_eq!(resolve("::1", 8082).unwrap(), ["[::1]:8082".parse().unwrap()]);
        assert_eq!(resolve("[::1]", 8082).unwrap(), ["[::1]:8082".parse().unwrap()]);
    }

    #[test]
    fn a_device_may_name_its_own_port() {
        assert_eq!(split_port("10.0.0.5:3232"), ("10.0.0.5", Some(3232)));
        assert_eq!(split_port("kitchen.local:8266"), ("kitchen.local", Some(8266)));
        assert_eq!(split_port("[fe80::1]:8082"), ("fe80::1", Some(8082)));
        assert_eq!(split_port("fe80::1"), ("fe80::1", None));
        assert_eq!(split_port("kitchen.local"), ("kitchen.local", None));
        assert_eq!(resolve("127.0.0.1:9", 1).unwrap(), ["127.0.0.1:9".parse().unwrap()]);
    }

    #[test]
    fn localhost_resolves_and_duplicates_are_dropped() {
        let addrs = resolve_all(&["127.0.0.1".into(), "localhost".into(), "127.0.0.1".into()], 1234).unwrap();
        assert_eq!(addrs[0], "127.0.0.1:1234".parse().unwrap());
        assert_eq!(addrs.iter().filter(|a| **a == addrs[0]).count(), 1);
    }

    #[test]
    fn unknown_names_say_what_to_do() {
        let err = resolve_all(&["no-such-device.invalid".into()], 1).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("cannot resolve no-such-device.invalid"), "{text}");
        assert!(text.contains("--device <IP>"), "{text}");
    }
}

#[cfg(test)]
mod mdns_tests {
    use super::*;
    use mdns_sd::ServiceInfo;

    #[test]
    fn a_local_name_answers_over_mdns() {
        let daemon = ServiceDaemon::new().unwrap();
        let name = format!("ferrota-mdns-{}", std::process::id());
        let host = format!("{name}.local.");
        let ip = "127.0.0.1";
        let info = ServiceInfo::new("_esphomelib._tcp.local.", &name, &host, ip, 6053, None).unwrap();
        daemon.register(info).unwrap();
        let found = resolve(&format!("{name}.local"), 3232);
        let _ = daemon.shutdown();
        assert_eq!(found.unwrap(), [format!("{ip}:3232").parse().unwrap()]);
    }
}
