//! The target side of every writing run: the prepared session
//! ([`session::TargetSession`]), the role's rights, carried roles, applying
//! objects and data in order, `--clean`, target-owned dependents carried
//! over, excluded tables held aside, the lock budget, the sync lock and the sync history.
pub(crate) mod actions;
pub(crate) mod apply;
pub(crate) mod blockers;
pub(crate) mod clean;
pub(crate) mod delta;
pub(crate) mod dependents;
pub(crate) mod held;
pub(crate) mod history;
pub(crate) mod locks;
pub(crate) mod rebuild;
pub(crate) mod rights;
pub(crate) mod roles;
pub(crate) mod savepoint;
pub(crate) mod session;
pub(crate) mod sync_lock;
