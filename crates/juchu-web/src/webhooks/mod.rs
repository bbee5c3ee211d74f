//! Outbound webhooks: endpoints, their delivery log, replay and test (API and
//! admin), and the pull feed of events.

pub mod api;
pub mod ui;
