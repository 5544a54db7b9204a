//! Counting API requests made through a client, so that tests can assert
//! things like "a reconcile of an up-to-date object makes no writes".

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use http::{Method, Request};
use tower::{Layer, Service};

/// Counts the requests that pass through a [`CountingLayer`]. Writes are
/// POST, PUT, PATCH and DELETE; everything else (GET, including lists and
/// watches) is a read. Clones share the same counts.
#[derive(Clone, Debug, Default)]
pub struct WriteCounter {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    writes: AtomicUsize,
    reads: AtomicUsize,
    write_log: Mutex<Vec<String>>,
}

/// Whether an HTTP method changes state on the API server.
pub(crate) fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

impl WriteCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tower layer that counts into this counter. Add it with
    /// `kube::client::ClientBuilder::with_layer`, or use
    /// [`crate::counting_client`].
    pub fn layer(&self) -> CountingLayer {
        CountingLayer {
            counter: self.clone(),
        }
    }

    /// Number of write requests (POST, PUT, PATCH, DELETE) since creation or
    /// the last [`reset`](Self::reset).
    pub fn writes(&self) -> usize {
        self.inner.writes.load(Ordering::SeqCst)
    }

    /// Number of read requests (everything that is not a write).
    pub fn reads(&self) -> usize {
        self.inner.reads.load(Ordering::SeqCst)
    }

    /// All requests: `reads() + writes()`.
    pub fn requests(&self) -> usize {
        self.reads() + self.writes()
    }

    /// The write requests, as `"METHOD /path?query"`, oldest first: handy in
    /// assertion messages.
    pub fn write_log(&self) -> Vec<String> {
        self.inner
            .write_log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sets all counts back to zero and clears the write log.
    pub fn reset(&self) {
        let mut log = self
            .inner
            .write_log
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.inner.writes.store(0, Ordering::SeqCst);
        self.inner.reads.store(0, Ordering::SeqCst);
        log.clear();
    }

    fn record(&self, method: &Method, uri: &http::Uri) {
        if is_write(method) {
            let mut log = self
                .inner
                .write_log
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.inner.writes.fetch_add(1, Ordering::SeqCst);
            let path = uri
                .path_and_query()
                .map_or_else(|| uri.path(), |p| p.as_str());
            log.push(format!("{method} {path}"));
        } else {
            self.inner.reads.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Tower layer produced by [`WriteCounter::layer`].
#[derive(Clone, Debug)]
pub struct CountingLayer {
    counter: WriteCounter,
}

impl<S> Layer<S> for CountingLayer {
    type Service = CountingService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CountingService {
            inner,
            counter: self.counter.clone(),
        }
    }
}

/// Tower service that counts each request, then passes it on unchanged.
#[derive(Clone, Debug)]
pub struct CountingService<S> {
    inner: S,
    counter: WriteCounter,
}

impl<S, B> Service<Request<B>> for CountingService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.counter.record(request.method(), request.uri());
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use std::future::{Ready, ready};

    #[derive(Clone)]
    struct Echo;

    impl Service<Request<()>> for Echo {
        type Response = ();
        type Error = Infallible;
        type Future = Ready<Result<(), Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            ready(Ok(()))
        }
    }

    fn request(method: Method, uri: &str) -> Request<()> {
        Request::builder()
            .method(method)
            .uri(uri)
            .body(())
            .expect("valid request")
    }

    #[tokio::test]
    async fn counts_writes_and_reads_separately() {
        let counter = WriteCounter::new();
        let mut svc = counter.layer().layer(Echo);
        for (method, uri) in [
            (Method::GET, "/api/v1/namespaces/a/pods"),
            (Method::GET, "/api/v1/namespaces/a/pods?watch=true"),
            (Method::POST, "/api/v1/namespaces/a/pods"),
            (Method::PUT, "/api/v1/namespaces/a/pods/x"),
            (Method::PATCH, "/api/v1/namespaces/a/pods/x?fieldManager=m"),
            (Method::DELETE, "/api/v1/namespaces/a/pods/x"),
        ] {
            svc.call(request(method, uri)).await.expect("infallible");
        }
        assert_eq!(counter.writes(), 4);
        assert_eq!(counter.reads(), 2);
        assert_eq!(counter.requests(), 6);
        assert_eq!(
            counter.write_log()[2],
            "PATCH /api/v1/namespaces/a/pods/x?fieldManager=m"
        );

        let shared = counter.clone();
        counter.reset();
        assert_eq!(shared.writes(), 0);
        assert_eq!(shared.reads(), 0);
        assert!(shared.write_log().is_empty());
    }
}
