//! RSS and CPU time of the operator process, sampled from /proc.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::audit::Phases;

/// Linux's USER_HZ: the unit of utime/stime in /proc/PID/stat (100 on every Linux ABI).
const CLOCK_TICKS: f64 = 100.0;

#[derive(Clone, Copy, Debug)]
struct Sample {
    at: Timestamp,
    rss_kib: u64,
    cpu_ticks: u64,
}

pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s.contains(") Z ") && !s.contains(") X "))
}

fn read(pid: u32) -> Option<(u64, u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces): state is field 3, utime 14,
    // stime 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((kib("VmRSS:")?, kib("VmHWM:").unwrap_or(0), utime + stime))
}

pub struct Sampler {
    samples: Arc<Mutex<Vec<Sample>>>,
    hwm_kib: Arc<Mutex<u64>>,
    task: tokio::task::JoinHandle<()>,
}

pub fn sample_every(pid: u32, every: Duration) -> Sampler {
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let hwm_kib: Arc<Mutex<u64>> = Arc::default();
    let task = {
        let samples = samples.clone();
        let hwm_kib = hwm_kib.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some((rss, hwm, cpu)) = read(pid) else {
                    continue;
                };
                *hwm_kib.lock().unwrap_or_else(|p| p.into_inner()) = hwm;
                samples
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Sample {
                        at: Timestamp::now(),
                        rss_kib: rss,
                        cpu_ticks: cpu,
                    });
            }
        })
    };
    Sampler {
        samples,
        hwm_kib,
        task,
    }
}

/// Process figures per phase.
#[derive(Debug, Default)]
pub struct ProcSummary {
    pub rss_peak_mib: f64,
    pub rss_converged_mib: f64,
    pub rss_steady_mean_mib: f64,
    pub rss_steady_max_mib: f64,
    pub cpu_converge_secs: f64,
    pub cpu_steady_secs: f64,
    pub cpu_total_secs: f64,
}

impl Sampler {
    pub fn stop(&self) {
        self.task.abort();
    }

    pub fn summary(&self, phases: &Phases) -> ProcSummary {
        let s = self
            .samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let hwm = *self.hwm_kib.lock().unwrap_or_else(|p| p.into_inner());
        let mib = |kib: u64| kib as f64 / 1024.0;
        // CPU time at a moment: the last sample taken at or before it.
        let cpu_at = |t: Timestamp| {
            s.iter()
                .take_while(|x| x.at <= t)
                .last()
                .or(s.first())
                .map(|x| x.cpu_ticks)
                .unwrap_or(0)
        };
        let ticks =
            |a: Timestamp, b: Timestamp| cpu_at(b).saturating_sub(cpu_at(a)) as f64 / CLOCK_TICKS;
        let steady: Vec<u64> = s
            .iter()
            .filter(|x| x.at >= phases.steady.0 && x.at <= phases.steady.1)
            .map(|x| x.rss_kib)
            .collect();
        let converged = s
            .iter()
            .take_while(|x| x.at <= phases.converge.1)
            .last()
            .map(|x| x.rss_kib)
            .unwrap_or(0);
        ProcSummary {
            rss_peak_mib: mib(hwm.max(s.iter().map(|x| x.rss_kib).max().unwrap_or(0))),
            rss_converged_mib: mib(converged),
            rss_steady_mean_mib: if steady.is_empty() {
                0.0
            } else {
                mib(steady.iter().sum::<u64>() / steady.len() as u64)
            },
            rss_steady_max_mib: mib(steady.iter().copied().max().unwrap_or(0)),
            cpu_converge_secs: ticks(phases.converge.0, phases.converge.1),
            cpu_steady_secs: ticks(phases.steady.0, phases.steady.1),
            cpu_total_secs: s.last().map(|x| x.cpu_ticks).unwrap_or(0) as f64 / CLOCK_TICKS,
        }
    }
}
