//! The server's integration tests, in one test binary.
//!
//! One binary instead of one per file: each binary links the whole server (axum, sqlx,
//! leptos, async-stripe, …), so twenty of them filled CI's disk and spent minutes linking.
//! Each file below is a module; run one with `cargo test -p server --test it -- owners::`.

mod common;

mod api_clients;
mod billing;
mod billing_admin;
mod billing_objects;
mod billing_owner;
mod concurrency;
mod custom_domains;
mod db_names;
mod faults;
mod foundation;
mod headers;
mod mail;
mod owners;
mod portal;
mod portal_domains;
mod pos;
mod routing;
mod signin;
mod tenant_lifecycle;
mod tls;
