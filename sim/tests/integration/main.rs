//! Integration tests of odoo-sim, each against its own in-process simulator on 127.0.0.1:0.

mod support;

mod determinism;
mod domain;
mod errors;
mod faults;
mod json2;
mod load;
mod mutations;
mod serving;
mod transport;
mod values;
mod webhooks;
