//! Durability of ingest against the real server process, on SQLite and on PostgreSQL:
//! a SIGKILL in the middle of a stream of batches loses no acknowledged event and stores none
//! twice, and a SIGTERM lets the batches in flight finish before the process exits 0.
//!
//! What this can and cannot detect: SIGKILL ends the process but not the machine, so the
//! operating system's page cache survives; a commit that reached the kernel but not the disk
//! still counts as stored. The SIGKILL test therefore proves that an acknowledgement is only
//! sent after the commit, that a batch and its roll-ups are stored together or not at all,
//! and that retries are deduplicated; on SQLite also that the file is in WAL mode and that
//! the restart recovers from the log. It does not prove that `synchronous = FULL` survives
//! power loss (a per-connection setting it cannot even observe); only pulling the plug would.

use crate::common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{fresh_url, Db};
use rand::Rng;
use serde_json::{json, Value};
use server::rollup::ALL_STATUSES;
use server::store::RollupFilter;
use server::Store;
use shared::IngestResponse;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdout, Command};

const BIN: &str = env!("CARGO_BIN_EXE_usage-analytics");
/// How long a server may take to start or to stop before the test gives up.
const PATIENCE: Duration = Duration::from_secs(60);

// ---- the server process ------------------------------------------------------------

/// A `usage-analytics serve` process. Dropping it kills it, so a failing test leaves no
/// server behind; on failure its log is printed.
struct ServerProcess {
    child: Child,
    addr: String,
    log: PathBuf,
    /// Held open: the server must never write to a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl ServerProcess {
    /// Starts the server on `url` and a free port; returns once `/readyz` says it is ready.
    async fn start(url: &str, dir: &Path, name: &str) -> ServerProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let log = dir.join(format!("{name}.log"));
        let mut child = Command::new(BIN)
            .arg("serve")
            .env("DATABASE_URL", url)
            .env("LEPTOS_SITE_ADDR", &addr)
            .env("LEPTOS_SITE_ROOT", dir)
            .env("RUST_LOG", "info,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("server log file"))
            .spawn()
            .expect("start usage-analytics serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let ready = tokio::time::timeout(PATIENCE, stdout.read_line(&mut line)).await;
        let server = ServerProcess {
            child,
            addr,
            log,
            _stdout: stdout,
        };
        match ready {
            Ok(Ok(n)) if n > 0 && line.contains("usage-analytics serving on") => {}
            other => panic!("{name} did not start ({other:?}, stdout {line:?})"),
        }
        // It listens before the database is open (and migrated); ready once /readyz is 200.
        let deadline = std::time::Instant::now() + PATIENCE;
        let readyz = format!("http://{}/readyz", server.addr);
        loop {
            if let Ok(res) = reqwest::get(&readyz).await {
                if res.status() == 200 {
                    return server;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name} was not ready within {PATIENCE:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The process id, for signals.
    fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// SIGKILL: the process ends at once, whatever it was doing.
    async fn sigkill(&mut self) {
        self.child.kill().await.expect("SIGKILL the server");
    }

    /// SIGTERM: asks the server to shut down gracefully.
    fn sigterm(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Waits for the process to end by itself.
    async fn exit_status(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the server did not exit within {PATIENCE:?}"))
            .expect("wait for the server")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("---- {} ----\n{text}", self.log.display());
        }
    }
}

/// Runs a CLI command on the database `url`; returns its stdout, failing on a non-zero exit.
async fn cli(url: &str, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run usage-analytics");
    assert!(
        out.status.success(),
        "usage-analytics {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Creates a project with an ingest key through the CLI; returns the key.
async fn project_key(url: &str) -> String {
    cli(url, &["projects", "create", "Durable"]).await;
    let out = cli(url, &["keys", "create", "--project", "Durable"]).await;
    out.lines().last().expect("the key line").trim().to_string()
}

// ---- the events ---------------------------------------------------------------------

/// Start of the three days the events are spread over: a UTC midnight five days ago, fixed
/// for the test run (recent, so that the server's retention keeps them).
fn first_day() -> i64 {
    static FIRST: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *FIRST.get_or_init(|| (chrono::Utc::now().timestamp() / 86_400 - 5) * 86_400)
}

/// Event `i` of batch `batch`: unique id, spread over three days, several models, errors,
/// latencies and client costs, so that many roll-up rows and every column get exercised.
fn event(batch: usize, i: usize) -> Value {
    let n = (batch * 7_919 + i * 104_729) as i64;
    let ts = chrono::DateTime::from_timestamp(first_day() + n % (3 * 86_400), 0)
        .expect("a valid time")
        .to_rfc3339();
    let model = ["alpha", "beta", "gamma"][i % 3];
    let mut e = json!({
        "id": format!("b{batch:03}-{i:05}"),
        "timestamp": ts,
        "model": model,
        "input_tokens": 100 + (n % 900),
        "output_tokens": 10 + (n % 70),
        "cached_input_tokens": n % 50,
        "user": format!("user-{}", n % 13),
    });
    if !i.is_multiple_of(5) {
        e["latency_ms"] = json!(20 + n % 5_000);
        e["ttft_ms"] = json!(5 + n % 300);
    }
    if i.is_multiple_of(11) {
        e["cost_usd"] = json!(0.000_123);
    }
    if i.is_multiple_of(17) {
        e["status"] = json!("error");
        let error_type = ["rate_limit", "timeout"][i % 2];
        e["error_type"] = json!(error_type);
    }
    e
}

/// The JSON body of a whole batch.
fn batch_body(batch: usize, size: usize) -> Vec<u8> {
    let events: Vec<Value> = (0..size).map(|i| event(batch, i)).collect();
    serde_json::to_vec(&events).expect("serialize a batch")
}

/// The batch an event id belongs to.
fn batch_of(id: &str) -> usize {
    id.get(1..4)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a test event id: {id:?}"))
}

// ---- checks on the database ---------------------------------------------------------

/// How often each event id is stored.
async fn stored_ids(store: &Store) -> HashMap<String, usize> {
    /// One line per event: its id.
    fn id_line(out: &mut Vec<u8>, e: &server::store::RawEvent<'_>) {
        out.extend_from_slice(e.id.expect("every test event has an id").as_bytes());
        out.push(b'\n');
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let reader = store.clone();
    let producer = tokio::spawn(async move {
        reader
            .stream_events(&RollupFilter::default(), i64::MIN, i64::MAX, id_line, tx)
            .await
    });
    let mut counts = HashMap::new();
    while let Some(chunk) = rx.recv().await {
        let text = String::from_utf8(chunk).expect("ids are text");
        for id in text.lines() {
            *counts.entry(id.to_string()).or_default() += 1;
        }
    }
    producer.await.expect("join").expect("read the events");
    counts
}

/// Checks that no id is stored twice and that each batch is stored whole or not at all;
/// returns the batches stored.
fn whole_batches(ids: &HashMap<String, usize>, size: usize) -> BTreeSet<usize> {
    let twice: Vec<_> = ids.iter().filter(|(_, &n)| n > 1).take(5).collect();
    assert!(twice.is_empty(), "ids stored more than once: {twice:?}");
    let mut per_batch: BTreeMap<usize, usize> = BTreeMap::new();
    for id in ids.keys() {
        *per_batch.entry(batch_of(id)).or_default() += 1;
    }
    let torn: Vec<_> = per_batch.iter().filter(|(_, &n)| n != size).collect();
    assert!(
        torn.is_empty(),
        "batches stored in part (batch, events): {torn:?}"
    );
    per_batch.into_keys().collect()
}

/// Checks that the maintained roll-ups equal a recomputation from the raw events.
async fn assert_rollups_match_raw_events(store: &Store, events: usize) {
    let rollups = store.all_rollups().await.expect("read roll-ups");
    let raw = store.rollups_from_raw_events().await.expect("recompute");
    assert!(rollups == raw, "roll-ups differ from the raw events");
    let derived = store
        .derived_rollups_mismatch()
        .await
        .expect("check levels");
    assert_eq!(
        derived, None,
        "hour and day levels and \"any\" rows are exact sums"
    );
    let requests: i64 = rollups
        .iter()
        .filter(|(k, _)| k.error_type == ALL_STATUSES)
        .map(|(_, d)| d.requests)
        .sum();
    assert_eq!(requests, events as i64, "roll-ups count every event once");
}

/// Checks the same with the `verify` command an operator would run.
async fn assert_verify_says_ok(url: &str) {
    let out = cli(url, &["verify"]).await;
    assert!(out.starts_with("ok: "), "verify printed {out:?}");
}

/// Checks that the killed server left a non-empty write-ahead log (SQLite), so that the
/// restart has to recover the last commits from it. Looked at before anything opens the
/// database again: closing the last connection checkpoints and removes the log.
fn assert_wal_left_behind(dir: &Path) {
    let wal = dir.join("test.db-wal");
    let len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(len > 0, "no write-ahead log at {}", wal.display());
}

/// Checks that the SQLite file is in WAL mode (a property of the file, so any connection
/// that does not ask for a mode reports the server's).
async fn assert_wal_mode(url: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(url)
        .await
        .expect("open the SQLite file");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .expect("read the journal mode");
    assert_eq!(mode, "wal");
}

// ---- SIGKILL ------------------------------------------------------------------------

const KILL_BATCHES: usize = 40;
const KILL_BATCH_SIZE: usize = 1_000;
const CLIENTS: usize = 4;

/// What the clients learnt about each batch they sent.
#[derive(Default)]
struct Ledger {
    /// Answered 2xx: these must survive.
    acked: BTreeSet<usize>,
    /// Sent but never answered: stored or not, the client cannot know, so it retries.
    unanswered: BTreeSet<usize>,
}

/// What the streaming clients share.
#[derive(Default)]
struct Stream {
    /// The next batch to send.
    next: AtomicUsize,
    in_flight: AtomicUsize,
    /// Set just before the SIGKILL: a request failing earlier is a bug, not the crash.
    killing: AtomicBool,
    ledger: Mutex<Ledger>,
}

/// Sends the batches not yet taken to `addr` until the server stops answering.
async fn send_until_killed(addr: String, key: String, stream: Arc<Stream>) {
    let client = reqwest::Client::new();
    loop {
        let batch = stream.next.fetch_add(1, Ordering::SeqCst);
        if batch >= KILL_BATCHES {
            return;
        }
        let body = batch_body(batch, KILL_BATCH_SIZE);
        stream.in_flight.fetch_add(1, Ordering::SeqCst);
        let res = client
            .post(format!("http://{addr}/api/v1/events"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        let answer = match res {
            Ok(r) if r.status().is_success() => r.json::<IngestResponse>().await,
            Ok(r) => panic!("batch {batch}: unexpected status {}", r.status()),
            Err(e) => Err(e),
        };
        stream.in_flight.fetch_sub(1, Ordering::SeqCst);
        match answer {
            Ok(r) => {
                assert_eq!(r.accepted, KILL_BATCH_SIZE as u64, "batch {batch}: {r:?}");
                stream.ledger.lock().expect("ledger").acked.insert(batch);
            }
            Err(e) => {
                assert!(
                    stream.killing.load(Ordering::SeqCst),
                    "batch {batch} failed before the kill: {e}"
                );
                stream
                    .ledger
                    .lock()
                    .expect("ledger")
                    .unanswered
                    .insert(batch);
                return;
            }
        }
    }
}

/// Posts a batch to `addr` and returns the server's counts.
async fn post_batch(addr: &str, key: &str, batch: usize, size: usize) -> IngestResponse {
    let res = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/events"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(batch_body(batch, size))
        .send()
        .await
        .expect("the restarted server answers");
    assert_eq!(res.status(), 200, "batch {batch}");
    res.json().await.expect("ingest counts")
}

/// Streams batches from several clients, SIGKILLs the server mid-stream, restarts it and
/// checks the database before and after the clients retry.
async fn every_acknowledged_event_survives_a_sigkill_mid_stream_exactly_once(db: Db) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_url(db, &dir).await;
    let key = project_key(&url).await;
    let (kill_after, extra_ms) = {
        let mut rng = rand::thread_rng();
        (rng.gen_range(4..=12usize), rng.gen_range(0..40u64))
    };

    let mut first = ServerProcess::start(&url, dir.path(), "first").await;
    let stream = Arc::new(Stream::default());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            tokio::spawn(send_until_killed(
                first.addr.clone(),
                key.clone(),
                stream.clone(),
            ))
        })
        .collect();

    // Kill once enough batches are acknowledged, a random moment later, with more in flight.
    let started = Instant::now();
    while stream.ledger.lock().expect("ledger").acked.len() < kill_after {
        assert!(started.elapsed() < PATIENCE, "too few batches acknowledged");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(Duration::from_millis(extra_ms)).await;
    stream.killing.store(true, Ordering::SeqCst);
    let in_flight_at_kill = stream.in_flight.load(Ordering::SeqCst);
    first.sigkill().await;
    for c in clients {
        c.await.expect("a client task");
    }
    let ledger = std::mem::take(&mut *stream.ledger.lock().expect("ledger"));
    assert!(
        in_flight_at_kill > 0 && !ledger.unanswered.is_empty(),
        "the kill must interrupt batches in flight"
    );
    assert!(
        ledger.acked.len() < KILL_BATCHES,
        "the kill must come before the stream ends"
    );

    if let Db::Sqlite = db {
        assert_wal_left_behind(dir.path());
    }

    // Restart on the same database and look before any retry could paper over a loss.
    let second = ServerProcess::start(&url, dir.path(), "second").await;
    if let Db::Sqlite = db {
        assert_wal_mode(&url).await;
    }
    let store = Store::connect(Some(&url)).await.expect("open the store");
    let stored_before = whole_batches(&stored_ids(&store).await, KILL_BATCH_SIZE);
    let lost: Vec<_> = ledger.acked.difference(&stored_before).collect();
    assert!(lost.is_empty(), "acknowledged batches lost: {lost:?}");
    let unsent: BTreeSet<usize> = (0..KILL_BATCHES)
        .filter(|b| !ledger.acked.contains(b) && !ledger.unanswered.contains(b))
        .collect();
    let stray: Vec<_> = stored_before.intersection(&unsent).collect();
    assert!(stray.is_empty(), "batches stored but never sent: {stray:?}");
    assert_rollups_match_raw_events(&store, stored_before.len() * KILL_BATCH_SIZE).await;
    let committed_unanswered: BTreeSet<_> = ledger
        .unanswered
        .intersection(&stored_before)
        .copied()
        .collect();
    eprintln!(
        "{db:?}: killed after {} acks (+{extra_ms} ms, {in_flight_at_kill} in flight); \
         unanswered {:?}, of which stored {:?}",
        ledger.acked.len(),
        ledger.unanswered,
        committed_unanswered
    );

    // Clients retry everything unanswered and unsent, and some acknowledged batches too.
    let resend: Vec<usize> = (0..KILL_BATCHES)
        .filter(|b| !ledger.acked.contains(b))
        .chain(ledger.acked.first().copied())
        .chain(ledger.acked.last().copied())
        .collect();
    let answers = futures::future::join_all(
        resend
            .iter()
            .map(|&b| post_batch(&second.addr, &key, b, KILL_BATCH_SIZE)),
    )
    .await;
    for (&batch, r) in resend.iter().zip(&answers) {
        let expected = if stored_before.contains(&batch) {
            (0, KILL_BATCH_SIZE as u64)
        } else {
            (KILL_BATCH_SIZE as u64, 0)
        };
        assert_eq!(
            (r.accepted, r.duplicates),
            expected,
            "retry of batch {batch}"
        );
    }

    // Now every event is stored exactly once, and the roll-ups agree.
    let ids = stored_ids(&store).await;
    assert_eq!(
        whole_batches(&ids, KILL_BATCH_SIZE),
        (0..KILL_BATCHES).collect()
    );
    assert_rollups_match_raw_events(&store, KILL_BATCHES * KILL_BATCH_SIZE).await;
    assert_verify_says_ok(&url).await;
}

// ---- SIGTERM ------------------------------------------------------------------------

const TERM_BATCH_SIZE: usize = 5_000;
/// Batches whose handlers are certainly running (mid-body) when the signal arrives.
const HELD: usize = 3;
/// Batches racing the signal: each may be answered or refused, never half stored.
const RACERS: usize = 4;

/// An ingest request stopped half-way through its body, after the server asked for the rest
/// (`100 Continue`): its handler is running when the test sends the signal.
struct HeldRequest {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl HeldRequest {
    /// Sends the headers and half the body of `body`.
    async fn start(addr: &str, key: &str, body: Vec<u8>) -> HeldRequest {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let head = format!(
            "POST /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\
             Expect: 100-continue\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("send head");
        let mut interim = Vec::new();
        while !interim.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            let n = tokio::time::timeout(PATIENCE, stream.read(&mut byte))
                .await
                .expect("an answer to Expect: 100-continue")
                .expect("read");
            assert_eq!(
                n,
                1,
                "connection closed: {:?}",
                String::from_utf8_lossy(&interim)
            );
            interim.push(byte[0]);
        }
        assert!(
            interim.starts_with(b"HTTP/1.1 100"),
            "expected 100 Continue, got {:?}",
            String::from_utf8_lossy(&interim)
        );
        let half = body.len() / 2;
        stream.write_all(&body[..half]).await.expect("send half");
        HeldRequest {
            stream,
            rest: body[half..].to_vec(),
        }
    }

    /// Sends the rest of the body; returns the status and the JSON answer.
    async fn finish(mut self) -> (u16, Value) {
        self.stream
            .write_all(&self.rest)
            .await
            .expect("send the rest");
        let mut answer = Vec::new();
        tokio::time::timeout(PATIENCE, self.stream.read_to_end(&mut answer))
            .await
            .expect("an answer")
            .expect("read the answer");
        let text = String::from_utf8_lossy(&answer);
        let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("a status line: {head:?}"));
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }
}

/// Holds some batches mid-body and races others against a SIGTERM; the held ones must be
/// answered 200 after the port has closed, and the process must then exit 0.
async fn sigterm_finishes_the_batches_in_flight_and_exits_zero(db: Db) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_url(db, &dir).await;
    let key = project_key(&url).await;
    let mut server = ServerProcess::start(&url, dir.path(), "server").await;

    let mut held = Vec::new();
    for b in 0..HELD {
        held.push(HeldRequest::start(&server.addr, &key, batch_body(b, TERM_BATCH_SIZE)).await);
    }
    let racers: Vec<_> = (HELD..HELD + RACERS)
        .map(|b| {
            let (addr, key) = (server.addr.clone(), key.clone());
            tokio::spawn(async move {
                let res = reqwest::Client::new()
                    .post(format!("http://{addr}/api/v1/events"))
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(batch_body(b, TERM_BATCH_SIZE))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => r.json::<IngestResponse>().await.ok(),
                    Ok(r) => panic!("batch {b}: unexpected status {}", r.status()),
                    Err(_) => None,
                }
            })
        })
        .collect();
    let delay = rand::thread_rng().gen_range(0..50u64);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    server.sigterm();

    // Once the signal is handled the port is closed, while the held batches are still
    // waiting for their second halves.
    let started = Instant::now();
    while TcpStream::connect(&server.addr).await.is_ok() {
        assert!(started.elapsed() < PATIENCE, "the server keeps accepting");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for (b, request) in held.into_iter().enumerate() {
        let (status, answer) = request.finish().await;
        assert_eq!(status, 200, "held batch {b}: {answer}");
        assert_eq!(
            answer["accepted"], TERM_BATCH_SIZE,
            "held batch {b}: {answer}"
        );
    }
    let mut acked: BTreeSet<usize> = (0..HELD).collect();
    let mut unanswered = BTreeSet::new();
    for (b, racer) in (HELD..).zip(racers) {
        match racer.await.expect("a racer") {
            Some(r) => {
                assert_eq!(r.accepted, TERM_BATCH_SIZE as u64, "racer {b}: {r:?}");
                acked.insert(b);
            }
            None => {
                unanswered.insert(b);
            }
        }
    }
    let status = server.exit_status().await;
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM: {status}"
    );

    let store = Store::connect(Some(&url)).await.expect("open the store");
    let stored = whole_batches(&stored_ids(&store).await, TERM_BATCH_SIZE);
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged batches lost: {lost:?}");
    eprintln!(
        "{db:?}: SIGTERM after {delay} ms; acknowledged {acked:?}, unanswered {unanswered:?}, \
         stored {stored:?}"
    );
    assert_rollups_match_raw_events(&store, stored.len() * TERM_BATCH_SIZE).await;
    assert_verify_says_ok(&url).await;
}

on_both_backends!(
    every_acknowledged_event_survives_a_sigkill_mid_stream_exactly_once,
    sigterm_finishes_the_batches_in_flight_and_exits_zero,
);

// ---- shipping: version, data directory, backup ---------------------------------------

/// `--version` names the version and the commit the binary was built from; `--data-dir`
/// (or `UA_DATA_DIR`) puts the SQLite file where asked, made if missing.
#[tokio::test]
async fn the_version_names_its_commit_and_the_data_directory_is_where_asked() {
    let out = Command::new(BIN).arg("--version").output().await.unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let want = format!("usage-analytics {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&want), "{text}");
    let commit = text.trim().trim_start_matches(&want).trim_end_matches(')');
    let git = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output();
    match git {
        Ok(o) if o.status.success() => {
            assert_eq!(commit, String::from_utf8_lossy(&o.stdout).trim(), "{text}")
        }
        _ => assert_eq!(commit, "unknown", "{text}"),
    }

    let dir = tempfile::tempdir().unwrap();
    let wanted = dir.path().join("elsewhere");
    let out = Command::new(BIN)
        .args([
            "--data-dir",
            wanted.to_str().unwrap(),
            "projects",
            "create",
            "P",
        ])
        .env_remove("DATABASE_URL")
        .env_remove("UA_DATA_DIR")
        .current_dir(dir.path())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(wanted.join("usage-analytics.db").exists());
    assert!(
        !dir.path().join("data").exists(),
        "not the default directory"
    );
    let by_env = dir.path().join("by-env");
    let out = Command::new(BIN)
        .args(["projects", "list"])
        .env_remove("DATABASE_URL")
        .env("UA_DATA_DIR", &by_env)
        .current_dir(dir.path())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(by_env.join("usage-analytics.db").exists());
}

/// `backup FILE` while ingest goes on: the copy opens as a database, `verify` passes on it,
/// and every event acknowledged before the backup started is in it. It never overwrites.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_ingest_holds_every_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_url(Db::Sqlite, &dir).await;
    let store = Store::connect(Some(&url)).await.unwrap();
    let project = store.create_project("Backed up").await.unwrap();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let now = chrono::Utc::now().timestamp_millis();
    let writer = {
        let (store, acked, stop) = (store.clone(), acked.clone(), stop.clone());
        tokio::spawn(async move {
            let mut batch = 0;
            while !stop.load(Ordering::Relaxed) {
                let events: Vec<shared::UsageEvent> = (0..200)
                    .map(|i| common::event_at(format!("b{batch}-{i}"), now - 60_000 + i))
                    .collect();
                server::ingest::submit(&store, project.id, &events)
                    .await
                    .unwrap();
                acked
                    .lock()
                    .unwrap()
                    .extend(events.into_iter().filter_map(|e| e.id));
                batch += 1;
            }
        })
    };
    while acked.lock().unwrap().len() < 4_000 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before: Vec<String> = acked.lock().unwrap().clone();
    let copy = dir.path().join("backup.db");
    cli(&url, &["backup", copy.to_str().unwrap()]).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();

    let copy_url = format!("sqlite://{}", copy.display());
    assert_verify_says_ok(&copy_url).await;
    let restored = Store::connect(Some(&copy_url)).await.unwrap();
    let ids = stored_ids(&restored).await;
    assert!(ids.values().all(|n| *n == 1), "no event twice");
    let missing: Vec<&String> = before.iter().filter(|id| !ids.contains_key(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events missing",
        missing.len()
    );

    let again = Command::new(BIN)
        .args(["backup", copy.to_str().unwrap()])
        .env("DATABASE_URL", &url)
        .output()
        .await
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));
}
