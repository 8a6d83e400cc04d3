//! The operations, each a short recipe over the layers below: [`dump`],
//! [`restore`] (and `restore -j`), [`sync`] (and its schedule), [`verify`],
//! [`list`] (and `ddl`). Operation files never import each other.
pub(crate) mod dump;
pub(crate) mod list;
pub(crate) mod restore;
pub(crate) mod sync;
pub(crate) mod verify;
