//! The platform's server: configuration, database, web (portals, API, health) and workers.

pub mod cli;
pub mod config;
pub mod db;
pub mod health;
pub mod observability;
pub mod shutdown;
pub mod web;
