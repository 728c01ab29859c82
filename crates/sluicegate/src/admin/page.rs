//! The human status page (`GET /`): server-rendered HTML, no external assets, modelled on
//! HAProxy's stats page. It refreshes every 5 s and shows totals: a rate needs two snapshots.

use std::fmt::Write;

use crate::admin::status::{BackendStatus, ClusterStatus, ListenerStatus, ReloadReport, Status};
use crate::discovery::DiscoveryStatus;

/// The inline style sheet: the page loads nothing else.
const STYLE: &str = r#"
:root{--line:#d8dee4;--head:#f3f5f7;--muted:#656d76}*{box-sizing:border-box}
body{margin:0;font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1f2328;background:#f6f8fa}
header{display:flex;flex-wrap:wrap;align-items:center;gap:6px 28px;padding:10px 20px;background:#1f2933;color:#e6edf3}
.brand{display:flex;align-items:center;gap:10px;font-size:18px;font-weight:600}.ver,dt{font-size:12px;font-weight:400;color:#9aa5b1}
dl{display:flex;flex-wrap:wrap;gap:2px 22px;margin:0}dl div{display:flex;align-items:baseline;gap:6px}dd{margin:0}
nav{margin-left:auto;display:flex;gap:14px}nav a{color:#8cc4ff;text-decoration:none}nav a:hover{text-decoration:underline}
main{padding:4px 20px 20px;max-width:1080px}a{color:#0969da}h2{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 10px;font-size:14px;margin:18px 0 6px}
h2 small{font-size:12px;font-weight:400;color:var(--muted)}.kind{font-size:11px;font-weight:600;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.box,.scroll{background:#fff;border:1px solid var(--line);border-radius:4px}.box{padding:8px 12px}.box ul{margin:6px 0 0;padding-left:20px}.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%}th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
th{background:var(--head);font-size:12px;font-weight:600;color:#424a53}tbody tr:last-child td{border-bottom:0}tbody tr:hover{background:#f6f8fa}
tfoot td{background:var(--head);font-weight:600;border-top:1px solid var(--line);border-bottom:0}
.n{text-align:right;font-variant-numeric:tabular-nums}.c{text-align:center}.w1{width:100px}.w2{width:84px}.w3{width:72px}
tr.off td{color:var(--muted)}code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}.muted{color:var(--muted)}.bad{color:#cf222e;font-weight:600}
.badge{display:inline-block;min-width:76px;padding:0 6px;border:1px solid;border-radius:10px;font-size:11px;font-weight:600;line-height:18px;text-align:center;text-transform:uppercase;letter-spacing:.04em}
.up,.ready,.success{background:#dafbe1;color:#116329;border-color:#aceebb}.down{background:#eaeef2;color:#57606a;border-color:#d0d7de}
.drained,.draining,.ejected,.unreachable{background:#fff8c5;color:#7d4e00;border-color:#eac54f}
.unhealthy,.panic{background:#ffebe9;color:#a40e26;border-color:#ffcecb}.error{background:#ffebe9;color:#a40e26;border-color:#ffcecb}
form{margin:0}button{font:inherit;font-size:11px;font-weight:600;line-height:18px;min-width:64px;padding:0 10px;border:1px solid #d0d7de;border-radius:4px;background:#f6f8fa;color:#24292f;cursor:pointer}
button:hover{background:#eaeef2;border-color:#afb8c1}footer{margin-top:14px;font-size:12px;color:var(--muted)}
@media (max-width:860px){header,main{padding-left:12px;padding-right:12px}th,td{padding:4px 6px}}
"#;

/// Sends the drain/enable forms in the background and reloads the page, so the
/// browser stays here; without scripts the forms still work (the JSON reply shows).
const SCRIPT: &str = "document.addEventListener('submit',function(e){e.preventDefault();\
fetch(e.target.action,{method:'POST'}).then(function(r){return r.ok?location.reload():\
r.text().then(function(t){alert(t)})})});";

/// The head row of a cluster's table; every column but the address has a fixed width,
/// so the columns of all clusters line up.
const BACKEND_HEAD: &str = "<thead><tr><th>Backend</th><th class=\"c w1\">State</th>\
<th>Last check</th><th class=\"n w3\">Ejections</th>\
<th class=\"n w3\">Weight</th><th class=\"n w3\">Ramp</th><th class=\"n w2\">In flight</th>\
<th class=\"n w2\">Requests</th><th class=\"n w2\">Failures</th><th class=\"n w3\">Error %</th>\
<th class=\"c w1\">Action</th></tr></thead>";

/// The page for `status`.
pub fn render(status: &Status) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"5\"><title>sluicegate status</title>\
         <style>{STYLE}</style></head><body>\n"
    );
    header(&mut out, status);
    out.push_str("<main>\n");
    reload(&mut out, status.last_reload.as_ref(), status.loaded_at);
    listeners(&mut out, &status.listeners);
    for c in &status.clusters {
        cluster(&mut out, c);
    }
    let _ = writeln!(
        out,
        "<footer>Refreshes every 5 s. Requests and failures are totals since each backend \
         joined; for rates, scrape <a href=\"/metrics\">/metrics</a>.</footer>\n</main>\n\
         <script>{SCRIPT}</script></body></html>"
    );
    out
}

/// The dark top bar: version, readiness, generation, uptime and the machine endpoints.
fn header(out: &mut String, status: &Status) {
    let _ = writeln!(
        out,
        "<header><div class=\"brand\">sluicegate <span class=\"ver\">v{}</span>{}</div>\
         <dl><div><dt>generation</dt><dd>{}</dd></div><div><dt>uptime</dt><dd>{}</dd></div>\
         <div><dt>config loaded</dt><dd>{}</dd></div></dl>\
         <nav><a href=\"/status\">/status</a><a href=\"/metrics\">/metrics</a></nav></header>",
        escape(status.version),
        badge(if status.ready { "ready" } else { "draining" }),
        status.generation,
        uptime(status.uptime_seconds),
        utc(status.loaded_at),
    );
}

/// The last reload: its outcome with the changes it applied or the errors that stopped it.
fn reload(out: &mut String, last: Option<&ReloadReport>, loaded_at: f64) {
    out.push_str("<h2><span class=\"kind\">Last reload</span></h2><div class=\"box\">");
    let Some(r) = last else {
        let loaded = utc(loaded_at);
        let _ = writeln!(
            out,
            "<span class=\"muted\">None since start; config loaded {loaded}.</span></div>"
        );
        return;
    };
    let (result, at, trigger) = (badge(r.result), utc(r.at), escape(r.trigger));
    let _ = write!(out, "{result} {at} &middot; trigger <b>{trigger}</b>");
    if let Some(generation) = r.generation {
        let _ = write!(out, " &middot; generation {generation}");
    }
    let changes = r.changes.iter().map(|c| escape(c));
    let errors = r.errors.iter().map(|e| {
        let path = if e.path.is_empty() { "(file)" } else { &e.path };
        let line = e.line.map(|l| format!(" (line {l})")).unwrap_or_default();
        let (path, message) = (escape(path), escape(&e.message));
        format!("<code>{path}</code>{line}: {message}")
    });
    let items: Vec<String> = changes.chain(errors).collect();
    if items.is_empty() {
        out.push_str(" &middot; <span class=\"muted\">no changes</span>");
    } else {
        let _ = write!(out, "<ul><li>{}</li></ul>", items.join("</li><li>"));
    }
    out.push_str("</div>\n");
}

/// The listeners table.
fn listeners(out: &mut String, listeners: &[ListenerStatus]) {
    let _ = write!(
        out,
        "<h2><span class=\"kind\">Listeners</span><small>{}</small></h2><div class=\"scroll\">\
         <table><thead><tr><th>Name</th><th>Address</th><th class=\"w1\">Protocol</th>\
         <th class=\"n w2\">Routes</th></tr></thead><tbody>",
        listeners.len()
    );
    for l in listeners {
        let address = l.address.map_or_else(
            || "<span class=\"muted\">not bound</span>".to_owned(),
            |a| format!("<code>{}</code>", escape(&a.to_string())),
        );
        let (name, protocol) = (escape(&l.name), escape(&l.protocol));
        let _ = write!(
            out,
            "<tr><td><b>{name}</b></td><td>{address}</td><td>{protocol}</td><td class=\"n\">{}</td></tr>",
            l.routes
        );
    }
    out.push_str("</tbody></table></div>\n");
}

/// One cluster: a heading with its policy, a row per backend, then the totals.
fn cluster(out: &mut String, c: &ClusterStatus) {
    let up = c.backends.iter().filter(|b| b.state == "up").count();
    let check = c.health_check.as_deref().map_or_else(
        || "no active checks".to_owned(),
        |h| format!("checks: {}", escape(h)),
    );
    let panic = if c.panic {
        format!(" {}", badge("panic"))
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "<h2><span class=\"kind\">Cluster</span>{}{panic} <small>{} &middot; {up}/{} backends up \
         &middot; {} in flight &middot; {check}{}</small></h2><div class=\"scroll\"><table>{BACKEND_HEAD}<tbody>",
        escape(&c.name),
        escape(c.policy),
        c.backends.len(),
        c.in_flight,
        source(c.discovery.as_ref()),
    );
    for b in &c.backends {
        backend(out, &c.name, b);
    }
    let sum = |f: fn(&BackendStatus) -> u64| c.backends.iter().map(f).sum::<u64>();
    let (requests, failures) = (sum(|b| b.requests), sum(|b| b.failures));
    let _ = writeln!(
        out,
        "</tbody><tfoot><tr><td>Total</td><td></td><td></td><td class=\"n\">{}</td>\
         <td class=\"n\">{}</td><td></td><td class=\"n\">{}</td><td class=\"n\">{requests}</td><td class=\"n\">{failures}</td>\
         {}<td></td></tr></tfoot></table></div>",
        sum(|b| b.ejections),
        sum(|b| u64::from(b.weight)),
        sum(|b| b.in_flight),
        ratio_cell(failures, requests)
    );
}

/// Where a discovered cluster's backends come from and its source's last answer, as
/// the tail of the cluster's heading; nothing for a cluster with `backends:`.
fn source(discovery: Option<&DiscoveryStatus>) -> String {
    let Some(d) = discovery else {
        return String::new();
    };
    let last = match (d.last_result, &d.error) {
        (None, _) => "no answer yet".to_owned(),
        (Some(result), None) => result.to_owned(),
        (Some(result), Some(why)) => format!("{result}: {why}, last good set kept"),
    };
    format!(
        " &middot; discovery {} {}: {}",
        d.source,
        escape(&d.target),
        escape(&last)
    )
}

/// One backend row, with its drain (when up) or enable (when drained) button.
fn backend(out: &mut String, cluster: &str, b: &BackendStatus) {
    let action = match b.state {
        "drained" => "enable",
        "down" => "",
        _ => "drain",
    };
    let form = if action.is_empty() {
        String::new()
    } else {
        let (cluster, address) = (escape(&segment(cluster)), escape(&segment(&b.address)));
        format!(
            "<form method=\"post\" action=\"/backends/{cluster}/{address}/{action}\">\
             <button>{action}</button></form>"
        )
    };
    let ramp = match b.ramp_percent {
        100.. => format!("<span class=\"muted\">{}%</span>", b.ramp_percent),
        p => format!("<b>{p}%</b>"),
    };
    let row = if b.state == "up" {
        ""
    } else {
        " class=\"off\""
    };
    let failed = if b.failures > 0 { " bad" } else { "" };
    let name = b.name.as_deref().map_or_else(String::new, |name| {
        format!(" <small class=\"muted\">{}</small>", escape(name))
    });
    let _ = write!(
        out,
        "<tr{row}><td><code>{}</code>{name}</td><td class=\"c\">{}</td><td>{}</td>\
         <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{ramp}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
         <td class=\"n{failed}\">{}</td>{}<td class=\"c\">{form}</td></tr>",
        escape(&b.address),
        badge(b.state),
        last_check(b),
        b.ejections,
        b.weight,
        b.in_flight,
        b.requests,
        b.failures,
        ratio_cell(b.failures, b.requests)
    );
}

/// The last active check: a mark, what it saw and when (UTC); a dash without checks.
fn last_check(b: &BackendStatus) -> String {
    match &b.last_check {
        None => "<span class=\"muted\">&mdash;</span>".to_owned(),
        Some(c) => {
            let (mark, class) = if c.passed {
                ("&#10003;", "")
            } else {
                ("&#10007;", " class=\"bad\"")
            };
            format!(
                "<span{class}>{mark} {}</span> <small class=\"muted\">{}</small>",
                escape(&c.detail),
                utc(c.at)
            )
        }
    }
}

/// A coloured pill reading `label`; its colour is the CSS class of the same name.
fn badge(label: &str) -> String {
    let label = escape(label);
    format!("<span class=\"badge {label}\">{label}</span>")
}

/// The error-ratio cell: failures over requests in per-cent, a dash with no requests.
fn ratio_cell(failures: u64, requests: u64) -> String {
    if requests == 0 {
        return "<td class=\"n muted\">&ndash;</td>".to_owned();
    }
    let percent = failures as f64 * 100.0 / requests as f64;
    let class = if failures > 0 { " bad" } else { "" };
    format!("<td class=\"n{class}\">{percent:.1}</td>")
}

/// `s` with `& < > " '` replaced by entities, safe in text and quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// `s` as one URL path segment: all but `A-Z a-z 0-9 - . _ ~ :` percent-encoded.
fn segment(s: &str) -> String {
    s.bytes()
        .fold(String::with_capacity(s.len()), |mut out, b| {
            if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "%{b:02X}");
            }
            out
        })
}

/// Unix time `unix` (seconds) as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(unix: f64) -> String {
    let secs = unix.floor() as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days to civil date (proleptic Gregorian), after Howard Hinnant's `civil_from_days`.
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + i64::from(month <= 2);
    let (h, m, s) = (rest / 3_600, rest % 3_600 / 60, rest % 60);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02} UTC")
}

/// `seconds` as `2d 03h 04m 05s`.
fn uptime(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    let (d, h, m, s) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60, s % 60);
    format!("{d}d {h:02}h {m:02}m {s:02}s")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::status::{CheckStatus, ReloadErrorReport};

    /// A status with one cluster `name` holding a backend per `(address, state)`.
    fn status(name: &str, backends: &[(&str, &'static str)]) -> Status {
        let backends = backends.iter().map(|&(address, state)| BackendStatus {
            address: address.to_owned(),
            name: None,
            weight: 1,
            state,
            last_check: None,
            ejections: 0,
            ejected_until: None,
            in_flight: 0,
            requests: 10,
            failures: 1,
            ramp_percent: 100,
        });
        let cluster = ClusterStatus {
            name: name.to_owned(),
            policy: "round_robin",
            in_flight: 0,
            health_check: None,
            panic: false,
            retries_in_flight: 0,
            discovery: None,
            backends: backends.collect(),
        };
        Status {
            version: "0.1.0",
            uptime_seconds: 93_784.0,
            generation: 2,
            ready: true,
            loaded_at: 0.0,
            last_reload: None,
            listeners: Vec::new(),
            clusters: vec![cluster],
        }
    }

    #[test]
    fn escapes_config_values() {
        assert_eq!(
            escape(r#"<a b="c">'&'"#),
            "&lt;a b=&quot;c&quot;&gt;&#39;&amp;&#39;"
        );
        let page = render(&status("<script>", &[("127.0.0.1:80", "up")]));
        assert!(page.contains("&lt;script&gt;"));
        assert_eq!(
            page.matches("<script>").count(),
            1,
            "only the page's own script"
        );
        assert!(page.contains("action=\"/backends/%3Cscript%3E/127.0.0.1:80/drain\""));
        assert!(page.contains("1d 02h 03m 04s"));
    }

    #[test]
    fn formats_utc_dates() {
        assert_eq!(utc(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400.0), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000.9), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc(1_795_438_948.0), "2026-11-23 13:02:28 UTC");
        assert_eq!(utc(4_102_444_799.0), "2099-12-31 23:59:59 UTC");
        assert_eq!(utc(-1.0), "1969-12-31 23:59:59 UTC");
    }

    #[test]
    fn a_backend_given_by_name_shows_the_name_beside_its_address() {
        let mut st = status("app", &[("127.0.0.1:9001", "up"), ("127.0.0.1:9002", "up")]);
        st.clusters[0].backends[0].name = Some("localhost:9001".into());
        let page = render(&st);
        assert!(
            page.contains(
                "<td><code>127.0.0.1:9001</code> <small class=\"muted\">localhost:9001</small></td>"
            ),
            "{page}"
        );
        assert!(page.contains("<td><code>127.0.0.1:9002</code></td>"));
        assert!(page.contains("/backends/app/127.0.0.1:9001/drain"));
    }

    #[test]
    fn a_drained_backend_has_an_enable_form() {
        let page = render(&status(
            "web",
            &[("[::1]:80", "drained"), ("10.0.0.1:80", "down")],
        ));
        let form = "<form method=\"post\" action=\"/backends/web/%5B::1%5D:80/enable\">";
        assert!(page.contains(&format!("{form}<button>enable</button></form>")));
        assert!(
            !page.contains("/drain\""),
            "neither drained nor down can be drained"
        );
        assert!(page.contains("<span class=\"badge drained\">drained</span>"));
        assert!(page.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    }

    #[test]
    fn shows_reload_errors_with_their_lines() {
        let mut s = status("web", &[]);
        s.last_reload = Some(ReloadReport {
            at: 951_782_400.0,
            trigger: "file",
            result: "error",
            generation: None,
            changes: Vec::new(),
            errors: vec![ReloadErrorReport {
                path: "clusters.web.backends[0].address".to_owned(),
                message: "not an <address>".to_owned(),
                line: Some(12),
            }],
        });
        let page = render(&s);
        let error =
            "<code>clusters.web.backends[0].address</code> (line 12): not an &lt;address&gt;";
        assert!(page.contains(error));
        assert!(page.contains("<span class=\"badge error\">error</span> 2000-02-29 00:00:00 UTC"));
    }

    #[test]
    fn shows_health_state_last_check_ejections_and_panic() {
        let mut st = status(
            "app",
            &[("127.0.0.1:81", "unhealthy"), ("127.0.0.1:82", "ejected")],
        );
        let cluster = &mut st.clusters[0];
        cluster.panic = true;
        cluster.health_check =
            Some("http GET /healthz every 2s (timeout 1s, rise 2, fall 3)".into());
        cluster.backends[0].last_check = Some(CheckStatus {
            passed: false,
            detail: "status 503".into(),
            at: 951_782_400.0,
        });
        cluster.backends[1].ejections = 3;
        let page = render(&st);
        assert!(page.contains("<span class=\"badge unhealthy\">unhealthy</span>"));
        assert!(page.contains("<span class=\"badge ejected\">ejected</span>"));
        assert!(page.contains("<span class=\"badge panic\">panic</span>"));
        assert!(page.contains("checks: http GET /healthz every 2s"));
        assert!(
            page.contains("<span class=\"bad\">&#10007; status 503</span>"),
            "{page}"
        );
        assert!(page.contains("2000-02-29 00:00:00 UTC"));
        assert!(page.contains("<td class=\"n\">3</td>"));
        // Health does not take the operator's drain button away.
        assert!(page.contains("/backends/app/127.0.0.1:81/drain"));
    }

    #[test]
    fn shows_a_discovered_cluster_source_and_its_last_answer() {
        let mut st = status("api", &[("10.0.0.1:80", "up")]);
        st.clusters[0].discovery = Some(DiscoveryStatus {
            source: "dns",
            target: "api.internal:80".into(),
            last_result: Some("failed"),
            last_answer_at: Some(1.0),
            last_success_at: Some(0.5),
            error: Some("lookup failed: <servfail>".into()),
        });
        let page = render(&st);
        let want = "discovery dns api.internal:80: failed: lookup failed: &lt;servfail&gt;, last good set kept";
        assert!(page.contains(want), "{page}");
        assert!(!render(&status("web", &[])).contains("discovery"));
    }
}
