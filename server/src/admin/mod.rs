//! The superadmin portal's server side: password sign-in and sessions ([`auth`]), the
//! service layer behind the portal's server functions ([`portal`]), and the HTTP pieces
//! around them: session middleware and the live jobs stream ([`http`]); billing's part of
//! the portal ([`billing`]).

pub mod auth;
pub mod billing;
pub mod http;
pub mod portal;
