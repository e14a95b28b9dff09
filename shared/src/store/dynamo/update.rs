//! The update-expression builder every `UpdateItem` goes through.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// An `UpdateItem` expression under construction; every attribute goes through a
/// placeholder, since many plain words (`name`, `count`) are reserved.
#[derive(Default, Clone)]
pub(super) struct Update {
    pub(super) sets: Vec<String>,
    pub(super) removes: Vec<String>,
    pub(super) adds: Vec<String>,
    pub(super) deletes: Vec<String>,
    pub(super) names: HashMap<String, String>,
    pub(super) values: HashMap<String, AttributeValue>,
}

impl Update {
    pub(super) fn name(&mut self, attr: &str) -> String {
        let placeholder = format!("#{attr}");
        self.names.insert(placeholder.clone(), attr.to_string());
        placeholder
    }
    pub(super) fn value(&mut self, name: &str, v: AttributeValue) -> String {
        let placeholder = format!(":{name}");
        self.values.insert(placeholder.clone(), v);
        placeholder
    }
    pub(super) fn set(mut self, attr: &str, v: AttributeValue) -> Self {
        let (k, v) = (self.name(attr), self.value(attr, v));
        self.sets.push(format!("{k} = {v}"));
        self
    }
    pub(super) fn set_or_remove(self, attr: &str, v: Option<AttributeValue>) -> Self {
        match v {
            Some(v) => self.set(attr, v),
            None => self.remove(attr),
        }
    }
    /// `SET attr = if_not_exists(attr, v)`: only a new item takes the value.
    pub(super) fn set_if_absent(mut self, attr: &str, v: AttributeValue) -> Self {
        let (k, v) = (self.name(attr), self.value(attr, v));
        self.sets.push(format!("{k} = if_not_exists({k}, {v})"));
        self
    }
    pub(super) fn remove(mut self, attr: &str) -> Self {
        let k = self.name(attr);
        self.removes.push(k);
        self
    }
    pub(super) fn add(mut self, attr: &str, v: AttributeValue) -> Self {
        let (k, v) = (self.name(attr), self.value(attr, v));
        self.adds.push(format!("{k} {v}"));
        self
    }
    pub(super) fn delete(mut self, attr: &str, v: AttributeValue) -> Self {
        let (k, v) = (self.name(attr), self.value(attr, v));
        self.deletes.push(format!("{k} {v}"));
        self
    }
    /// Adds a name or value used only by the condition.
    pub(super) fn with_name(mut self, attr: &str) -> Self {
        self.name(attr);
        self
    }
    pub(super) fn with_value(mut self, name: &str, v: AttributeValue) -> Self {
        self.value(name, v);
        self
    }
    pub(super) fn is_empty(&self) -> bool {
        self.sets.is_empty()
            && self.removes.is_empty()
            && self.adds.is_empty()
            && self.deletes.is_empty()
    }
    pub(super) fn expression(&self) -> String {
        [
            ("SET", &self.sets, ", "),
            ("REMOVE", &self.removes, ", "),
            ("ADD", &self.adds, ", "),
            ("DELETE", &self.deletes, ", "),
        ]
        .iter()
        .filter(|(_, parts, _)| !parts.is_empty())
        .map(|(verb, parts, sep)| format!("{verb} {}", parts.join(sep)))
        .collect::<Vec<_>>()
        .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dynamo::item::n;

    #[test]
    fn an_update_names_every_attribute_through_a_placeholder() {
        let u = Update::default()
            .set("count", n(1))
            .remove("name")
            .add("failed_count", n(1));
        assert_eq!(
            u.expression(),
            "SET #count = :count REMOVE #name ADD #failed_count :failed_count"
        );
        assert_eq!(u.names.get("#name").map(String::as_str), Some("name"));
    }
}
