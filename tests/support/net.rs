//! Small network servers for the network tests and benches, all on
//! loopback: a test CA (rcgen, ring), a neutral hyper server over TLS
//! (HTTP/1.1 and HTTP/2, which the emulator does not speak), a CONNECT
//! proxy that counts its tunnels, servers that answer fixed bytes, and a
//! listener that never accepts. Each runs on its own thread and lives until
//! the process ends. The emulator serves https itself (`tls`): tests of the
//! Tasks API over TLS use it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A certificate authority made at start, and a server certificate it signed.
pub struct TestCa {
    /// The CA's certificate, PEM: what a client adds as a root.
    pub root_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

impl TestCa {
    /// A new CA whose server certificate names `names` (DNS names or IPs).
    pub fn new(names: &[&str]) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "xpander-sdk test CA");
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let leaf = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        TestCa {
            root_pem: ca.pem(),
            chain: vec![leaf.der().clone()],
            key: key.serialize_der(),
        }
    }

    /// A rustls server configuration with this CA's server certificate,
    /// offering `alpn` (e.g. `["h2", "http/1.1"]`).
    pub fn server_config(&self, alpn: &[&str]) -> Arc<rustls::ServerConfig> {
        // ring's provider, chosen on purpose (no C toolchain, no aws-lc): rustls
        // 0.23.48 deprecates it for lacking post-quantum key exchange.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                self.chain.clone(),
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone())),
            )
            .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Arc::new(config)
    }
}

/// Runs `future` on a new current-thread runtime on its own thread.
fn spawn_runtime<F>(future: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    });
}

/// A bound tokio listener on a free loopback port, and its address.
fn listen() -> (std::net::TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// A hyper server over TLS answering every request with `200` and `body`
/// (as JSON), speaking HTTP/1.1 or HTTP/2 as ALPN decides. Counts its
/// connections and the protocols negotiated.
pub struct HyperTls {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Connections accepted.
    pub connections: Arc<AtomicUsize>,
    /// The ALPN protocol of each connection (`""` when none).
    pub protocols: Arc<Mutex<Vec<String>>>,
}

impl HyperTls {
    /// Starts the server with `ca`'s certificate, offering `alpn`.
    pub fn start(ca: &TestCa, alpn: &[&str], body: Vec<u8>) -> HyperTls {
        use hyper::service::service_fn;
        use hyper_util::rt::{TokioExecutor, TokioIo};
        let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config(alpn));
        let (listener, addr) = listen();
        let connections = Arc::new(AtomicUsize::new(0));
        let protocols = Arc::new(Mutex::new(Vec::new()));
        let (c, p) = (connections.clone(), protocols.clone());
        let body = bytes::Bytes::from(body);
        std::thread::spawn(move || {
            // Two workers, as the emulator has: the benches compare clients,
            // so the server is the same for every client measured.
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    loop {
                        let Ok((socket, _)) = listener.accept().await else {
                            continue;
                        };
                        let _ = socket.set_nodelay(true);
                        c.fetch_add(1, Ordering::SeqCst);
                        let (acceptor, p, body) = (acceptor.clone(), p.clone(), body.clone());
                        tokio::spawn(async move {
                            let Ok(tls) = acceptor.accept(socket).await else {
                                return;
                            };
                            let alpn = tls
                                .get_ref()
                                .1
                                .alpn_protocol()
                                .map(|a| String::from_utf8_lossy(a).into_owned())
                                .unwrap_or_default();
                            p.lock().unwrap().push(alpn);
                            let service = service_fn(
                                move |request: hyper::Request<hyper::body::Incoming>| {
                                    let body = body.clone();
                                    async move {
                                        use http_body_util::BodyExt;
                                        // Read the request body, as a real server does.
                                        let _ = request.into_body().collect().await;
                                        Ok::<_, std::convert::Infallible>(
                                            hyper::Response::builder()
                                                .header("content-type", "application/json")
                                                .body(http_body_util::Full::new(body))
                                                .unwrap(),
                                        )
                                    }
                                },
                            );
                            let _ =
                                hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                                    .serve_connection(TokioIo::new(tls), service)
                                    .await;
                        });
                    }
                })
        });
        HyperTls {
            addr,
            connections,
            protocols,
        }
    }
}

/// A CONNECT proxy that sends every tunnel and every forwarded request to
/// `upstream`, whatever host it names, and records the targets named.
pub struct ConnectProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    /// CONNECT tunnels opened.
    pub tunnels: Arc<AtomicUsize>,
    /// Plain requests forwarded (absolute-form, no tunnel).
    pub forwards: Arc<AtomicUsize>,
    /// The `host:port` of each CONNECT, or the URL of each forwarded request.
    pub targets: Arc<Mutex<Vec<String>>>,
    /// The `proxy-authorization` headers seen.
    pub auth: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    /// Starts the proxy.
    pub fn start(upstream: SocketAddr) -> ConnectProxy {
        let (listener, addr) = listen();
        let tunnels = Arc::new(AtomicUsize::new(0));
        let forwards = Arc::new(AtomicUsize::new(0));
        let targets = Arc::new(Mutex::new(Vec::new()));
        let auth = Arc::new(Mutex::new(Vec::new()));
        let (t, f, g, au) = (
            tunnels.clone(),
            forwards.clone(),
            targets.clone(),
            auth.clone(),
        );
        spawn_runtime(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                let (t, f, g, au) = (t.clone(), f.clone(), g.clone(), au.clone());
                tokio::spawn(async move {
                    let Some(head) = read_head(&mut client).await else {
                        return;
                    };
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let mut lines = text.split("\r\n");
                    let first = lines.next().unwrap_or_default().to_string();
                    for line in lines {
                        if let Some((name, value)) = line.split_once(':') {
                            if name.eq_ignore_ascii_case("proxy-authorization") {
                                au.lock().unwrap().push(value.trim().to_string());
                            }
                        }
                    }
                    let mut parts = first.split(' ');
                    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    g.lock().unwrap().push(target.to_string());
                    if method == "CONNECT" {
                        t.fetch_add(1, Ordering::SeqCst);
                        let _ = client
                            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                            .await;
                    } else {
                        // Absolute-form: pass the request on in origin-form.
                        f.fetch_add(1, Ordering::SeqCst);
                        let path = target
                            .split_once("://")
                            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
                            .unwrap_or("/");
                        let rewritten = text.replacen(target, path, 1);
                        let _ = server.write_all(rewritten.as_bytes()).await;
                    }
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        });
        ConnectProxy {
            addr,
            tunnels,
            forwards,
            targets,
            auth,
        }
    }
}

/// Reads up to the end of a request head (`\r\n\r\n`), at most 64 KiB.
async fn read_head(socket: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 || socket.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(head)
}

/// A server that reads each request (head and `content-length` body) and
/// answers `answer`, then closes.
/// Counts the connections.
pub fn fixed_answer(answer: Vec<u8>) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            c.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let length = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                let mut body = vec![0u8; length];
                if stream.read_exact(&mut body).is_err() {
                    return;
                }
                let _ = stream.write_all(&answer);
                let _ = stream.flush();
            });
        }
    });
    (addr, count)
}

/// A listening socket whose accept queue is full, so a new connection is
/// never completed (Linux drops the SYN): a connect timeout on loopback,
/// without depending on any outside address. Keep the value alive.
pub struct Unaccepting {
    /// Where it listens.
    pub addr: SocketAddr,
    _listener: socket2::Socket,
    _fillers: Vec<TcpStream>,
}

impl Unaccepting {
    /// Opens the listener (backlog 0) and fills its queue.
    pub fn start() -> Unaccepting {
        use socket2::{Domain, Socket, Type};
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        listener
            .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        let mut fillers = Vec::new();
        // Fill the queue until a connection attempt no longer completes.
        for _ in 0..16 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(stream) => fillers.push(stream),
                Err(_) => break,
            }
        }
        Unaccepting {
            addr,
            _listener: listener,
            _fillers: fillers,
        }
    }
}
