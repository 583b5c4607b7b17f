//! Who is on the other end of a request, as the server's middleware found out.

/// The client's address (the TCP peer, or what a trusted reverse proxy forwarded), put
/// into each request's extensions by the server; server functions read it from there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub std::net::IpAddr);

impl ClientAddress {
    /// The address of the current request, when the server function runs in one.
    #[cfg(feature = "ssr")]
    pub fn of_request() -> Option<ClientAddress> {
        leptos::prelude::use_context::<http::request::Parts>()?
            .extensions
            .get::<ClientAddress>()
            .copied()
    }
}
