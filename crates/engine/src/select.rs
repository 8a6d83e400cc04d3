//! Adapts compiled filters to the catalog reader's [`Selector`].
use pgferry_catalog::Selector;

use crate::filter::CompiledFilters;

impl Selector for CompiledFilters {
    fn schema(&self, schema: &str) -> bool {
        self.schema_included(schema)
    }
    fn relation(&self, schema: &str, name: &str) -> bool {
        self.table_included(schema, name)
    }
    fn data(&self, schema: &str, name: &str) -> bool {
        self.table_data_included(schema, name)
    }
    fn relations_only(&self) -> bool {
        self.tables_only()
    }
    fn whole_database(&self) -> bool {
        !self.tables_only() && self.source().include_schemas.is_empty()
    }
    fn user_mapping_passwords(&self) -> bool {
        self.source().user_mapping_passwords
    }
    fn subscriptions(&self) -> bool {
        !self.source().no_subscriptions
    }
    fn roles(&self) -> pgferry_catalog::RoleSelection {
        self.source().roles
    }
    fn role_passwords(&self) -> bool {
        self.source().role_passwords
    }
    fn statistics(&self) -> bool {
        !self.source().no_statistics
    }
}
