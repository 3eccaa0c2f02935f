//! A real Prometheus and Alertmanager (Debian's `prometheus` and `prometheus-alertmanager` packages) for the
//! stack, shared by every test of a run:
//! - Prometheus scrapes the shared webhook and controller as the shipped ServiceMonitor does (path
//!   `/metrics`, plain http, the metrics' own labels kept, `job` = the Service's `app.kubernetes.io/name`,
//!   `namespace` = the namespace they would run in), every second, and evaluates the shipped PrometheusRule's
//!   groups with every `for:` shortened (minutes become seconds) and nothing else changed. Tests add targets
//!   of their own (private controllers) by writing a file into `targets_dir`.
//! - Alertmanager sends every notification, firing and resolved, one per alert, to a webhook receiver at
//!   `receiver_addr`, where the tests listen.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::http::Probe;
use crate::ports::free_port;
use crate::process::{Proc, ProcessInfo, wait_ready};

/// The namespace label the shared webhook's and controller's targets get, as if installed from `deploy/`.
pub const INSTALL_NAMESPACE: &str = "connect-warden";
/// The `job` labels: the Services' `app.kubernetes.io/name` (the ServiceMonitor's `jobLabel`).
pub const WEBHOOK_JOB: &str = "connect-warden-webhook";
pub const CONTROLLER_JOB: &str = "connect-warden-controller";

/// Where the monitoring of a stack is, as written to the env file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MonitoringEnv {
    /// `http://127.0.0.1:PORT` of Prometheus.
    pub prometheus_url: String,
    /// `http://127.0.0.1:PORT` of Alertmanager.
    pub alertmanager_url: String,
    /// `127.0.0.1:PORT` that Alertmanager posts its webhook notifications to (`POST /alerts`).
    pub receiver_addr: String,
    /// Prometheus reads scrape targets from the `*.json` files here (file_sd format) and notices new ones
    /// within a second.
    pub targets_dir: PathBuf,
    /// The rule file Prometheus evaluates.
    pub rules_file: PathBuf,
}

/// Prometheus and Alertmanager, stopped when dropped.
pub struct Monitoring {
    env: MonitoringEnv,
    prometheus: Proc,
    alertmanager: Proc,
}

/// The shared webhook's and controller's metrics addresses (`host:port`), when they run.
pub struct Targets<'a> {
    pub webhook: Option<&'a str>,
    pub controller: Option<&'a str>,
}

impl Monitoring {
    /// Writes the configuration under `dir/monitoring/`, starts Alertmanager and Prometheus on free ports,
    /// and waits until both are ready and Prometheus has loaded the rules.
    pub fn start(dir: &Path, targets: &Targets) -> crate::Result<Monitoring> {
        let prometheus_bin = find_binary("prometheus", "prometheus")?;
        let alertmanager_bin = find_binary("prometheus-alertmanager", "prometheus-alertmanager")?;
        let root = dir.join("monitoring");
        let targets_dir = root.join("targets");
        for d in [&root, &targets_dir] {
            std::fs::create_dir_all(d).map_err(crate::io(format!("creating {}", d.display())))?;
        }
        let shipped = crate::cache::repo_root()
            .join("deploy")
            .join("monitoring")
            .join("prometheusrule.yaml");
        let rule = std::fs::read_to_string(&shipped)
            .map_err(crate::io(format!("reading {}", shipped.display())))?;
        let rules_file = root.join("connect-warden.rules.yaml");
        write(&rules_file, &test_rules(&rule)?)?;

        let (am_port, prom_port, receiver_port) = (free_port()?, free_port()?, free_port()?);
        let receiver_addr = format!("127.0.0.1:{receiver_port}");
        let am_config = root.join("alertmanager.yml");
        write(&am_config, &alertmanager_config(&receiver_addr))?;
        let prom_config = root.join("prometheus.yml");
        write(
            &prom_config,
            &prometheus_config(
                &format!("127.0.0.1:{am_port}"),
                &rules_file,
                &targets_dir,
                targets,
            ),
        )?;

        let logs = dir.join("logs");
        let mut cmd = Command::new(alertmanager_bin);
        cmd.arg(format!("--config.file={}", am_config.display()))
            .arg(format!(
                "--storage.path={}",
                root.join("alertmanager-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            // A single instance: no gossip port.
            .arg("--cluster.listen-address=");
        let mut alertmanager = Proc::spawn("alertmanager", cmd, &logs.join("alertmanager.log"))?;
        let am_url = format!("http://127.0.0.1:{am_port}");
        let probe = Probe::plain()?;
        wait_ready(&mut alertmanager, Duration::from_secs(60), || {
            matches!(probe.get(&format!("{am_url}/-/ready")), Ok((200, _)))
        })?;

        let mut cmd = Command::new(prometheus_bin);
        cmd.arg(format!("--config.file={}", prom_config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                root.join("prometheus-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .arg("--log.level=info");
        let mut prometheus = Proc::spawn("prometheus", cmd, &logs.join("prometheus.log"))?;
        let prom_url = format!("http://127.0.0.1:{prom_port}");
        wait_ready(&mut prometheus, Duration::from_secs(60), || {
            matches!(probe.get(&format!("{prom_url}/-/ready")), Ok((200, _)))
                && probe
                    .get(&format!("{prom_url}/api/v1/rules"))
                    .is_ok_and(|(code, body)| code == 200 && body.contains("ConnectWarden"))
        })?;
        tracing::info!(%prom_url, %am_url, "Prometheus and Alertmanager ready");
        Ok(Monitoring {
            env: MonitoringEnv {
                prometheus_url: prom_url,
                alertmanager_url: am_url,
                receiver_addr,
                targets_dir,
                rules_file,
            },
            prometheus,
            alertmanager,
        })
    }

    pub fn env(&self) -> MonitoringEnv {
        self.env.clone()
    }

    /// Prometheus and Alertmanager, for the env file.
    pub fn processes(&self) -> Vec<ProcessInfo> {
        [&self.prometheus, &self.alertmanager]
            .into_iter()
            .filter_map(|p| p.info())
            .collect()
    }
}

impl Drop for Monitoring {
    fn drop(&mut self) {
        self.prometheus.stop(Duration::from_secs(10));
        self.alertmanager.stop(Duration::from_secs(10));
    }
}

fn find_binary(name: &str, package: &str) -> crate::Result<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            crate::Error::Env(format!(
                "{name} is missing: install Debian's {package} package (scripts/deps.sh does)"
            ))
        })
}

fn write(path: &Path, text: &str) -> crate::Result<()> {
    std::fs::write(path, text).map_err(crate::io(format!("writing {}", path.display())))
}

/// The rule file Prometheus loads: the `spec` of the shipped PrometheusRule (its `groups:`), de-indented,
/// with every `for:` shortened from minutes to as many seconds (`5m` → `5s`) so the alerts fire in test
/// time. Nothing else is changed.
pub fn test_rules(prometheus_rule: &str) -> crate::Result<String> {
    let mut lines = prometheus_rule.lines();
    if !lines.any(|l| l.trim_end() == "spec:") {
        return Err(crate::Error::Env(
            "the PrometheusRule has no top-level `spec:`".into(),
        ));
    }
    let mut out = String::new();
    for line in lines {
        let line = line.strip_prefix("  ").unwrap_or(line);
        let trimmed = line.trim_start();
        if let Some(value) = trimmed.strip_prefix("for: ") {
            let indent = &line[..line.len() - trimmed.len()];
            out.push_str(&format!("{indent}for: {}\n", shorten(value.trim())?));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !out.trim_start().starts_with("groups:") {
        return Err(crate::Error::Env(
            "the PrometheusRule's spec does not start with `groups:`".into(),
        ));
    }
    Ok(out)
}

/// `Nm` → `Ns`, `Nh` → `Nm`, `Ns` → `1s`: a sixtieth, at least a second.
fn shorten(duration: &str) -> crate::Result<String> {
    let bad = || {
        crate::Error::Env(format!(
            "unexpected `for: {duration}` in the PrometheusRule"
        ))
    };
    let (n, unit) = duration.split_at(duration.len().saturating_sub(1));
    let n: u64 = n.parse().map_err(|_| bad())?;
    Ok(match unit {
        "h" => format!("{n}m"),
        "m" => format!("{n}s"),
        "s" => "1s".to_string(),
        _ => return Err(bad()),
    })
}

/// Every alert its own group, sent at once (firing and resolved) to the test receiver.
fn alertmanager_config(receiver_addr: &str) -> String {
    format!(
        r#"route:
  receiver: tests
  group_by: ["..."]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: tests
    webhook_configs:
      - url: http://{receiver_addr}/alerts
        send_resolved: true
"#
    )
}

/// The scrape job of the shipped ServiceMonitor with static targets: path `/metrics`, scheme http,
/// `honor_labels` as `honorLabels: true`, `job` and `namespace` as the Prometheus Operator sets them from
/// the Service. Interval and timeout are one second here (30 s / 10 s in the ServiceMonitor).
fn prometheus_config(
    alertmanager: &str,
    rules_file: &Path,
    targets_dir: &Path,
    targets: &Targets,
) -> String {
    let mut statics = String::new();
    for (job, addr) in [
        (WEBHOOK_JOB, targets.webhook),
        (CONTROLLER_JOB, targets.controller),
    ] {
        if let Some(addr) = addr {
            statics.push_str(&format!(
                "      - targets: [\"{addr}\"]\n        labels: {{job: {job}, namespace: {INSTALL_NAMESPACE}}}\n"
            ));
        }
    }
    let statics = if statics.is_empty() {
        String::new()
    } else {
        format!("    static_configs:\n{statics}")
    };
    format!(
        r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - {rules}
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["{alertmanager}"]
scrape_configs:
  - job_name: connect-warden
    metrics_path: /metrics
    scheme: http
    honor_labels: true
{statics}    file_sd_configs:
      - files: ["{targets}/*.json"]
        refresh_interval: 1s
"#,
        rules = rules_file.display(),
        targets = targets_dir.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_the_spec_with_for_shortened_only() {
        let rule = "# c\napiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nspec:\n  groups:\n    - name: g\n      rules:\n        - alert: A\n          expr: |\n            up == 0\n          for: 15m\n          labels:\n            severity: warning\n";
        assert_eq!(
            test_rules(rule).unwrap(),
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: |\n          up == 0\n        for: 15s\n        labels:\n          severity: warning\n"
        );
        assert!(test_rules("kind: X\n").is_err());
        assert_eq!(shorten("2h").unwrap(), "2m");
        assert_eq!(shorten("30s").unwrap(), "1s");
        assert!(shorten("5d").is_err());
    }

    #[test]
    fn the_shipped_rules_convert() {
        let shipped = std::fs::read_to_string(
            crate::cache::repo_root().join("deploy/monitoring/prometheusrule.yaml"),
        )
        .unwrap();
        let rules = test_rules(&shipped).unwrap();
        assert!(rules.contains("alert: ConnectWardenTaskFailed"));
        assert!(
            !rules
                .lines()
                .any(|l| l.trim_start().starts_with("for:") && !l.trim_end().ends_with('s'))
        );
        // Only `for:` lines differ from the de-indented spec.
        let spec: Vec<&str> = shipped
            .lines()
            .skip_while(|l| *l != "spec:")
            .skip(1)
            .collect();
        let out: Vec<&str> = rules.lines().collect();
        assert_eq!(spec.len(), out.len());
        for (a, b) in spec.iter().zip(&out) {
            if !b.trim_start().starts_with("for:") {
                assert_eq!(a.strip_prefix("  ").unwrap_or(a), *b);
            }
        }
    }

    #[test]
    fn scrape_config_names_jobs_and_namespace_like_the_operator() {
        let c = prometheus_config(
            "127.0.0.1:1",
            Path::new("/r.yaml"),
            Path::new("/t"),
            &Targets {
                webhook: Some("127.0.0.1:2"),
                controller: Some("127.0.0.1:3"),
            },
        );
        assert!(c.contains("honor_labels: true"));
        assert!(c.contains("metrics_path: /metrics"));
        assert!(c.contains(
            "- targets: [\"127.0.0.1:3\"]\n        labels: {job: connect-warden-controller, namespace: connect-warden}"
        ));
        assert!(c.contains("files: [\"/t/*.json\"]"));
    }
}
