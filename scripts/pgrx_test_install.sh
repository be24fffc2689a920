#!/usr/bin/env bash
# What `cargo pgrx test` runs to install the extension under test (CARGO_PGRX, read by
# pgrx-tests): cargo-pgrx as it is, with the package named. pgrx-tests runs `cargo pgrx install
# --test` without one, and from this workspace's root cargo would pick the default members (the
# pure crates), which lack the extension's features.
exec cargo-pgrx "$@" --package odoo_sync
