//! The platform's server: configuration, database, web (portals, API, health) and workers.

pub mod admin;
pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod db_manager;
pub mod health;
pub mod jobs;
pub mod observability;
pub mod odoo;
pub mod plans;
pub mod platform;
pub mod service;
pub mod shutdown;
pub mod tenants;
pub mod web;
