//! The headers every response carries unless it set its own (the security headers, `no-store`
//! caching), added by one layer. It was one `SetResponseHeaderLayer` a header: axum clones the
//! whole stack of services for every request, so eight layers were eight clones and eight
//! futures per request for what one list does.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{HeaderName, HeaderValue, Request, Response};
use tower::{Layer, Service};

/// Adds each of its headers to a response that has none of that name.
#[derive(Clone)]
pub struct DefaultHeadersLayer(Arc<[(HeaderName, HeaderValue)]>);

impl DefaultHeadersLayer {
    pub fn new(headers: Vec<(HeaderName, HeaderValue)>) -> Self {
        DefaultHeadersLayer(headers.into())
    }
}

impl<S> Layer<S> for DefaultHeadersLayer {
    type Service = DefaultHeaders<S>;
    fn layer(&self, inner: S) -> DefaultHeaders<S> {
        DefaultHeaders {
            inner,
            headers: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct DefaultHeaders<S> {
    inner: S,
    headers: Arc<[(HeaderName, HeaderValue)]>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for DefaultHeaders<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = WithHeaders<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        WithHeaders {
            future: self.inner.call(req),
            headers: self.headers.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response of [`DefaultHeaders`], its headers added once it is ready.
    pub struct WithHeaders<F> {
        #[pin]
        future: F,
        headers: Arc<[(HeaderName, HeaderValue)]>,
    }
}

impl<F, B, E> Future for WithHeaders<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = std::task::ready!(this.future.poll(cx))?;
        let headers = res.headers_mut();
        for (name, value) in this.headers.iter() {
            if !headers.contains_key(name) {
                headers.insert(name.clone(), value.clone());
            }
        }
        Poll::Ready(Ok(res))
    }
}
