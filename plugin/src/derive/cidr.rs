//! CIDR tables: IP networks mapped to group names, longest prefix first.
//!
//! A [`CidrTable`] is parsed from text with one `CIDR,group` per line,
//! IPv4 or IPv6; a bare address is a /32 or /128. Blank lines are ignored
//! and `#` starts a comment (a whole line or the end of one). Errors name the line: a bad address or
//! prefix length, host bits set (`10.1.2.3/16`), an empty group, or the same
//! network given twice with different groups (with the same group the repeat
//! is ignored). Lookups parse the address and pick the **longest** matching
//! prefix; IPv4 and IPv6 are separate, except that an IPv4-mapped IPv6
//! address (`::ffff:10.0.0.1`) is looked up as its IPv4 address. A value
//! that is not an IP address (a host name, `"-"`, a number, an address with
//! a zone `%eth0` or surrounding spaces) matches nothing, so `CidrGroup`
//! gives `"unknown"`.
//!

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use crate::event::clip;

#[derive(Debug, Clone, PartialEq)]
struct Net {
    v6: bool,
    /// The network address (an IPv4 address in the low 32 bits).
    addr: u128,
    len: u8,
    group: String,
}

/// One address family's prefixes, longest first: `(length, network → entry)`.
type Prefixes = Vec<(u8, BTreeMap<u128, usize>)>;

/// IP networks mapped to group names; longest prefix wins. See the
/// [module docs](self#cidr-groups) for the text format.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CidrTable {
    nets: Vec<Net>,
    v4: Prefixes,
    v6: Prefixes,
}

fn width(v6: bool) -> u8 {
    if v6 { 128 } else { 32 }
}

fn mask(v6: bool, len: u8) -> u128 {
    if len == 0 {
        return 0;
    }
    let w = u32::from(width(v6));
    (u128::MAX >> (128 - w)) & (u128::MAX << (w - u32::from(len)))
}

fn ip_bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(a) => (false, u128::from(u32::from(a))),
            None => (true, u128::from(a)),
        },
    }
}

fn net_text(v6: bool, addr: u128, len: u8) -> String {
    if v6 {
        format!("{}/{len}", std::net::Ipv6Addr::from(addr))
    } else {
        format!("{}/{len}", std::net::Ipv4Addr::from(addr as u32))
    }
}

impl CidrTable {
    /// Parse the table text: one `CIDR,group` per line. Errors are
    /// `line N: …`.
    pub fn parse(text: &str) -> Result<CidrTable, String> {
        let mut table = CidrTable::default();
        let mut lines_of: Vec<usize> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let Some((cidr, group)) = line.split_once(',') else {
                return Err(format!("line {n}: expected `CIDR,group`, got {:?}", clip(line)));
            };
            let (cidr, group) = (cidr.trim(), group.trim());
            if group.is_empty() {
                return Err(format!("line {n}: the group of {cidr} is empty"));
            }
            let (addr_text, len_text) = match cidr.split_once('/') {
                Some((a, l)) => (a.trim(), Some(l.trim())),
                None => (cidr, None),
            };
            let ip: IpAddr = addr_text
                .parse()
                .map_err(|_| format!("line {n}: {:?} is not an IPv4 or IPv6 address", clip(addr_text)))?;
            let v6 = ip.is_ipv6();
            let addr = match ip {
                IpAddr::V4(a) => u128::from(u32::from(a)),
                IpAddr::V6(a) => u128::from(a),
            };
            let w = width(v6);
            let len = match len_text {
                None => w,
                Some(l) => l
                    .parse::<u8>()
                    .ok()
                    .filter(|&x| x <= w && !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| format!("line {n}: prefix length {l:?} is not a number from 0 to {w}"))?,
            };
            let net = addr & mask(v6, len);
            if net != addr {
                return Err(format!("line {n}: {cidr} has host bits set (did you mean {}?)", net_text(v6, net, len)));
            }
            let prefixes = if v6 { &mut table.v6 } else { &mut table.v4 };
            let slot = match prefixes.iter().position(|(l, _)| *l == len) {
                Some(p) => p,
                None => {
                    let p = prefixes.iter().position(|(l, _)| *l < len).unwrap_or(prefixes.len());
                    prefixes.insert(p, (len, BTreeMap::new()));
                    p
                }
            };
            if let Some(&old) = prefixes[slot].1.get(&net) {
                if table.nets[old].group != group {
                    return Err(format!(
                        "line {n}: {} is already in group {:?} (line {})",
                        net_text(v6, net, len),
                        table.nets[old].group,
                        lines_of[old]
                    ));
                }
                continue;
            }
            prefixes[slot].1.insert(net, table.nets.len());
            table.nets.push(Net { v6, addr: net, len, group: group.to_string() });
            lines_of.push(n);
        }
        Ok(table)
    }

    /// The group of the longest prefix containing `ip`, or `None` when no
    /// prefix does or `ip` is not an IP address.
    pub fn lookup(&self, ip: &str) -> Option<&str> {
        let (v6, bits) = ip_bits(ip.parse::<IpAddr>().ok()?);
        let prefixes = if v6 { &self.v6 } else { &self.v4 };
        prefixes.iter().find_map(|(len, nets)| nets.get(&(bits & mask(v6, *len))).map(|&i| self.nets[i].group.as_str()))
    }

    /// The entries in file order, as `("10.1.0.0/16", "engineering")`
    /// (a bare address written with its /32 or /128; repeats dropped).
    pub fn entries(&self) -> Vec<(String, String)> {
        self.nets.iter().map(|n| (net_text(n.v6, n.addr, n.len), n.group.clone())).collect()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.nets.len()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }
}

impl fmt::Display for CidrTable {
    /// The table as text [`CidrTable::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (cidr, group) in self.entries() {
            writeln!(f, "{cidr},{group}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::derive) const TABLE: &str = "\
# departments
10.0.0.0/8, corp
10.1.0.0/16,engineering   # the lab
10.1.2.3,ceo-laptop

192.168.0.0/16,guest
2001:db8::/32,v6corp
2001:db8:1::/48,v6eng
0.0.0.0/0,internet
";

    #[test]
    fn cidr_longest_prefix() {
        let t = CidrTable::parse(TABLE).unwrap();
        assert_eq!(t.len(), 7);
        assert_eq!(t.lookup("10.9.9.9"), Some("corp"));
        assert_eq!(t.lookup("10.1.9.9"), Some("engineering"));
        assert_eq!(t.lookup("10.1.2.3"), Some("ceo-laptop"));
        assert_eq!(t.lookup("10.1.2.4"), Some("engineering"));
        assert_eq!(t.lookup("192.168.200.1"), Some("guest"));
        assert_eq!(t.lookup("8.8.8.8"), Some("internet"));
        assert_eq!(t.lookup("2001:db8:1:2::5"), Some("v6eng"));
        assert_eq!(t.lookup("2001:db8:2::5"), Some("v6corp"));
        assert_eq!(t.lookup("2001:0db8:0001:0000:0000:0000:0000:0001"), Some("v6eng"));
        // IPv6 outside every v6 prefix: the IPv4 default does not apply.
        assert_eq!(t.lookup("fe80::1"), None);
        // IPv4-mapped IPv6 is looked up as IPv4.
        assert_eq!(t.lookup("::ffff:10.1.2.3"), Some("ceo-laptop"));
        for not_ip in ["", "-", "host.example", "10.1.2", "10.1.2.3.4", "256.1.1.1", " 10.1.2.3", "fe80::1%eth0", "22"]
        {
            assert_eq!(t.lookup(not_ip), None, "{not_ip:?}");
        }
        // Order in the file does not matter: the longest prefix wins.
        let rev: String = TABLE.lines().rev().map(|l| format!("{l}\n")).collect();
        let r = CidrTable::parse(&rev).unwrap();
        assert_eq!(r.lookup("10.1.2.3"), Some("ceo-laptop"));
        assert_eq!(r.lookup("10.1.9.9"), Some("engineering"));
        assert_eq!(r.lookup("10.9.9.9"), Some("corp"));
        // /0 and /32 edges without a default.
        let t2 = CidrTable::parse("10.0.0.0/8,a\n::/0,any6\n::1/128,lo").unwrap();
        assert_eq!(t2.lookup("11.0.0.0"), None);
        assert_eq!(t2.lookup("::1"), Some("lo"));
        assert_eq!(t2.lookup("::2"), Some("any6"));
    }

    #[test]
    fn cidr_entries_round_trip() {
        let t = CidrTable::parse(TABLE).unwrap();
        assert_eq!(
            t.entries(),
            [
                ("10.0.0.0/8", "corp"),
                ("10.1.0.0/16", "engineering"),
                ("10.1.2.3/32", "ceo-laptop"),
                ("192.168.0.0/16", "guest"),
                ("2001:db8::/32", "v6corp"),
                ("2001:db8:1::/48", "v6eng"),
                ("0.0.0.0/0", "internet"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(CidrTable::parse(&t.to_string()).unwrap(), t);
        // A repeat with the same group is dropped.
        let d = CidrTable::parse("10.0.0.0/8,a\n10.0.0.0/8, a").unwrap();
        assert_eq!(d.len(), 1);
        assert!(CidrTable::parse("# nothing\n\n").unwrap().is_empty());
    }

    #[test]
    fn cidr_errors_name_the_line() {
        let err = |text: &str| CidrTable::parse(text).unwrap_err();
        let e = err("10.0.0.0/8,a\n\n10.0.0.0/33,b");
        assert!(e.starts_with("line 3:") && e.contains("33"), "{e}");
        let e = err("# c\n10.0.0.0/8");
        assert!(e.starts_with("line 2:") && e.contains("CIDR,group"), "{e}");
        let e = err("10.0.0.0/8,a\nnot-an-ip,b");
        assert!(e.starts_with("line 2:") && e.contains("not-an-ip"), "{e}");
        let e = err("10.0.0.0/8,");
        assert!(e.starts_with("line 1:") && e.contains("empty"), "{e}");
        let e = err("\n10.1.2.3/16,a");
        assert!(e.starts_with("line 2:") && e.contains("10.1.0.0/16"), "{e}");
        let e = err("10.0.0.0/8,a\n10.0.0.0/8,b");
        assert!(e.starts_with("line 2:") && e.contains("line 1"), "{e}");
        for bad in ["10.0.0.0/,a", "10.0.0.0/+8,a", "10.0.0.0/x,a", "2001:db8::/129,a", "010.0.0.1,a"] {
            assert!(err(bad).starts_with("line 1:"), "{bad}");
        }
        assert!(CidrTable::parse("2001:db8::/128,a").is_ok());
    }
}
