//! Model definitions: real Odoo field names, types and `fields_get` attributes.
//!
//! The schema is built once at start from the flags (`--with-brand`, `--with-region-code`):
//! a field that is not enabled does not exist, and asking for it fails as in a real Odoo.

use std::collections::HashMap;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FType {
    Integer,
    Float,
    Monetary,
    Char,
    Text,
    Boolean,
    Selection,
    Many2one,
    One2many,
    Many2many,
    Datetime,
}

impl FType {
    pub fn as_str(self) -> &'static str {
        match self {
            FType::Integer => "integer",
            FType::Float => "float",
            FType::Monetary => "monetary",
            FType::Char => "char",
            FType::Text => "text",
            FType::Boolean => "boolean",
            FType::Selection => "selection",
            FType::Many2one => "many2one",
            FType::One2many => "one2many",
            FType::Many2many => "many2many",
            FType::Datetime => "datetime",
        }
    }
    pub fn is_relational(self) -> bool {
        matches!(self, FType::Many2one | FType::One2many | FType::Many2many)
    }
    pub fn is_x2many(self) -> bool {
        matches!(self, FType::One2many | FType::Many2many)
    }
}

/// Where a field's value comes from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Storage {
    /// The record id (kept outside the columns).
    Id,
    /// A stored column.
    Col(usize),
    /// Computed at read time: the record's display name.
    DisplayName,
    /// Not stored: mirrors another field's column (product `lst_price` mirrors `list_price`).
    Alias(usize),
}

#[derive(Clone, Debug)]
pub struct FieldDef {
    pub name: &'static str,
    pub ftype: FType,
    pub string: &'static str,
    pub relation: Option<&'static str>,
    pub relation_field: Option<&'static str>,
    pub store: bool,
    pub readonly: bool,
    pub required: bool,
    pub selection: Vec<(&'static str, &'static str)>,
    pub storage: Storage,
    /// Model index of `relation`, resolved after all models are known.
    pub rel_model: Option<usize>,
    /// Pre-rendered `"name": ` so that the hot rendering loop only copies bytes.
    pub json_key: String,
}

impl FieldDef {
    pub fn col(&self) -> Option<usize> {
        match self.storage {
            Storage::Col(c) | Storage::Alias(c) => Some(c),
            _ => None,
        }
    }
    pub fn sel_index(&self, key: &str) -> Option<u8> {
        self.selection.iter().position(|(k, _)| *k == key).map(|i| i as u8)
    }
}

/// How a model computes its display name.
#[derive(Clone, Copy, Debug)]
pub enum Display {
    /// The value of one char field (name, complete_name...).
    Field(usize),
    /// `[CODE] Name` when a code is set, else `Name` (product.product).
    CodeName { code: usize, name: usize },
}

#[derive(Clone, Debug)]
pub struct ModelDef {
    pub name: &'static str,
    pub description: &'static str,
    pub fields: Vec<FieldDef>,
    pub by_name: HashMap<&'static str, usize>,
    pub default_order: &'static str,
    pub display: Display,
    /// Field index of `active`, when the model has one (archived records are hidden).
    pub active_field: Option<usize>,
    pub ncols: usize,
    /// False: the API user has no access rights on this model (AccessError).
    pub accessible: bool,
}

impl ModelDef {
    pub fn field(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }
    pub fn fdef(&self, name: &str) -> Option<&FieldDef> {
        self.field(name).map(|i| &self.fields[i])
    }
    pub fn col_of(&self, name: &str) -> usize {
        self.fdef(name).and_then(|f| f.col()).unwrap_or_else(|| panic!("{}.{} has no column", self.name, name))
    }
    pub fn parent_field(&self) -> Option<usize> {
        self.field("parent_id").filter(|&i| self.fields[i].relation == Some(self.name))
    }
}

/// A one2many field and the many2one on the child that it mirrors: `lines` on pos.order is the
/// set of pos.order.line rows whose `order_id` points at the order.
#[derive(Clone, Copy, Debug)]
pub struct Inverse {
    pub child_col: usize,
    pub parent_model: usize,
    pub parent_col: usize,
}

pub struct Schema {
    pub models: Vec<ModelDef>,
    by_name: HashMap<&'static str, usize>,
    /// Per child model: the one2many lists to keep in step with its many2one columns.
    pub inverses: Vec<Vec<Inverse>>,
}

impl Schema {
    pub fn model(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }
    pub fn get(&self, idx: usize) -> &ModelDef {
        &self.models[idx]
    }
    pub fn idx(&self, name: &str) -> usize {
        self.model(name).unwrap_or_else(|| panic!("no model {name}"))
    }
}

pub const REGION_CODES: &[(&str, &str)] = &[
    ("NCR", "National Capital Region"),
    ("CAR", "Cordillera Administrative Region"),
    ("R1", "Ilocos Region"),
    ("R2", "Cagayan Valley"),
    ("R3", "Central Luzon"),
    ("R4A", "CALABARZON"),
    ("R4B", "MIMAROPA"),
    ("R5", "Bicol Region"),
    ("R6", "Western Visayas"),
    ("R7", "Central Visayas"),
    ("R8", "Eastern Visayas"),
    ("R9", "Zamboanga Peninsula"),
    ("R10", "Northern Mindanao"),
    ("R11", "Davao Region"),
    ("R12", "SOCCSKSARGEN"),
    ("R13", "Caraga"),
    ("BARMM", "Bangsamoro Autonomous Region in Muslim Mindanao"),
];

/// `base.automation.trigger` (the first is the sim's default when none is given).
pub const AUTOMATION_TRIGGERS: &[(&str, &str)] = &[
    ("on_create_or_write", "On save"),
    ("on_create", "On creation"),
    ("on_write", "On update"),
    ("on_unlink", "On deletion"),
    ("on_archive", "On archived"),
    ("on_unarchive", "On unarchived"),
    ("on_stage_set", "Stage is set to"),
    ("on_user_set", "User is set"),
    ("on_tag_set", "Tag is added"),
    ("on_state_set", "State is set to"),
    ("on_priority_set", "Priority is set to"),
    ("on_change", "On UI change"),
    ("on_time", "Based on date field"),
    ("on_create_time", "After creation"),
    ("on_write_time", "After last update"),
    ("on_message_received", "On incoming message"),
    ("on_message_sent", "On outgoing message"),
    ("on_webhook", "On webhook"),
];

/// `ir.actions.server.state` (the first, `object_write`, is Odoo's default).
pub const SERVER_ACTION_STATES: &[(&str, &str)] = &[
    ("object_write", "Update Record"),
    ("object_create", "Create Record"),
    ("object_copy", "Duplicate Record"),
    ("code", "Execute Code"),
    ("webhook", "Send Webhook Notification"),
    ("multi", "Execute Existing Actions"),
];

struct MB {
    m: ModelDef,
}

fn model(name: &'static str, description: &'static str, default_order: &'static str) -> MB {
    let mut mb = MB {
        m: ModelDef {
            name,
            description,
            fields: Vec::new(),
            by_name: HashMap::new(),
            default_order,
            display: Display::Field(0),
            active_field: None,
            ncols: 0,
            accessible: true,
        },
    };
    mb.add("id", FType::Integer, "ID", None, Storage::Id);
    mb.last().readonly = true;
    mb
}

impl MB {
    fn add(
        &mut self,
        name: &'static str,
        ftype: FType,
        string: &'static str,
        relation: Option<&'static str>,
        storage: Storage,
    ) -> &mut Self {
        self.m.by_name.insert(name, self.m.fields.len());
        self.m.fields.push(FieldDef {
            name,
            ftype,
            string,
            relation,
            relation_field: None,
            store: !matches!(storage, Storage::DisplayName | Storage::Alias(_)),
            readonly: false,
            required: false,
            selection: Vec::new(),
            storage,
            rel_model: None,
            json_key: format!("\"{}\": ", name),
        });
        self
    }
    fn stored(
        &mut self,
        name: &'static str,
        ftype: FType,
        string: &'static str,
        relation: Option<&'static str>,
    ) -> &mut Self {
        let c = self.m.ncols;
        self.m.ncols += 1;
        self.add(name, ftype, string, relation, Storage::Col(c))
    }
    fn last(&mut self) -> &mut FieldDef {
        self.m.fields.last_mut().expect("a field")
    }
    fn f(&mut self, name: &'static str, ftype: FType, string: &'static str) -> &mut Self {
        self.stored(name, ftype, string, None)
    }
    fn m2o(&mut self, name: &'static str, rel: &'static str, string: &'static str) -> &mut Self {
        self.stored(name, FType::Many2one, string, Some(rel))
    }
    fn o2m(&mut self, name: &'static str, rel: &'static str, inverse: &'static str, string: &'static str) -> &mut Self {
        self.stored(name, FType::One2many, string, Some(rel));
        self.last().relation_field = Some(inverse);
        self
    }
    fn m2m(&mut self, name: &'static str, rel: &'static str, string: &'static str) -> &mut Self {
        self.stored(name, FType::Many2many, string, Some(rel))
    }
    fn sel(&mut self, name: &'static str, string: &'static str, options: &[(&'static str, &'static str)]) -> &mut Self {
        self.stored(name, FType::Selection, string, None);
        self.last().selection = options.to_vec();
        self
    }
    fn req(&mut self) -> &mut Self {
        self.last().required = true;
        self
    }
    fn ro(&mut self) -> &mut Self {
        self.last().readonly = true;
        self
    }
    fn alias(&mut self, name: &'static str, ftype: FType, string: &'static str, of: &'static str) -> &mut Self {
        let col = self.m.fields[self.m.by_name[of]].col().expect("alias of a stored field");
        self.add(name, ftype, string, None, Storage::Alias(col))
    }
    fn no_access(&mut self) -> &mut Self {
        self.m.accessible = false;
        self
    }
    /// Adds Odoo's magic fields and picks the display rule. Every model gets them.
    fn build(mut self, display: &[&'static str]) -> ModelDef {
        self.add("display_name", FType::Char, "Display Name", None, Storage::DisplayName);
        self.last().readonly = true;
        self.m2o("create_uid", "res.users", "Created by").ro();
        self.f("create_date", FType::Datetime, "Created on").ro();
        self.m2o("write_uid", "res.users", "Last Updated by").ro();
        self.f("write_date", FType::Datetime, "Last Updated on").ro();
        let m = &mut self.m;
        m.active_field = m.field("active");
        m.display = match display {
            [f] => Display::Field(m.by_name[f]),
            ["[code]", code, name] => Display::CodeName { code: m.by_name[code], name: m.by_name[name] },
            _ => panic!("bad display rule"),
        };
        self.m
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    pub brand: bool,
    pub region_code: bool,
    /// Odoo major version (16..=19): the fields our models have differ between versions
    /// (see VERSION DIFFERENCES in build()).
    pub version: u32,
    /// Odoo 17+ with the `base_automation` module: `base.automation`, `ir.actions.server`
    /// (with the `webhook` action type) and `ir.model.fields`.
    pub base_automation: bool,
}

/// Builds the models of one Odoo version.
///
/// VERSION DIFFERENCES (read in Odoo's source and OpenUpgrade's upgrade analyses; only those
/// that touch the models and fields odoo_sync reads):
/// - product: 16 and 17 have `detailed_type`, and `type` includes `product` (storable goods);
///   17 adds `combo`. 18 drops `detailed_type` and `product`: storable goods are
///   `type = 'consu'` with the new boolean `is_storable`.
/// - pos.order: `uuid` is new in 18; the `invoiced` state is gone in 19 (an invoiced order stays
///   `done`); amounts are float fields before 18 and monetary from 18.
/// - res.partner: `mobile` is removed in 19; the `private` address type exists only in 16.
pub fn build(features: Features) -> Schema {
    let v = features.version;
    // This order is each model's index (and its ir.model id): keep it.
    let mut models = base_models();
    models.extend(product_models(v, features.brand));
    models.extend(partner_models(v, features.region_code));
    models.extend(pos_setup_models());
    models.extend(pos_order_models(v));
    models.extend(technical_models());
    if features.base_automation {
        models.extend(automation_models());
    }
    let mut by_name = HashMap::new();
    for (i, m) in models.iter().enumerate() {
        by_name.insert(m.name, i);
    }
    resolve_relations(&mut models, &by_name);
    let inverses = one2many_inverses(&models);
    Schema { models, by_name, inverses }
}

/// Companies, currencies, countries and their states, users and taxes: the master data
/// every other model points at.
fn base_models() -> Vec<ModelDef> {
    use FType::*;
    let mut models = Vec::new();
    let mut b = model("res.company", "Companies", "sequence, name");
    b.f("name", Char, "Company Name").req();
    b.m2o("currency_id", "res.currency", "Currency").req();
    b.m2o("country_id", "res.country", "Country");
    models.push(b.build(&["name"]));

    let mut b = model("res.currency", "Currency", "active desc, name");
    b.f("name", Char, "Currency").req();
    b.f("symbol", Char, "Symbol").req();
    b.f("active", Boolean, "Active");
    models.push(b.build(&["name"]));

    let mut b = model("res.country", "Country", "name, id");
    b.f("name", Char, "Country Name").req();
    b.f("code", Char, "Country Code");
    models.push(b.build(&["name"]));

    let mut b = model("res.country.state", "Country state", "country_id, name, id");
    b.f("name", Char, "State Name").req();
    b.f("code", Char, "State Code").req();
    b.m2o("country_id", "res.country", "Country").req();
    models.push(b.build(&["name"]));

    let mut b = model("res.users", "User", "name, login");
    b.f("name", Char, "Name").req();
    b.f("login", Char, "Login").req();
    b.f("active", Boolean, "Active");
    b.m2o("company_id", "res.company", "Company").req();
    models.push(b.build(&["name"]));

    let mut b = model("account.tax", "Tax", "sequence,id");
    b.f("name", Char, "Tax Name").req();
    b.f("amount", Float, "Amount").req();
    b.sel("type_tax_use", "Tax Type", &[("sale", "Sales"), ("purchase", "Purchases"), ("none", "None")]).req();
    b.f("active", Boolean, "Active");
    b.m2o("company_id", "res.company", "Company").req();
    models.push(b.build(&["name"]));
    models
}

/// Product categories, brands (`--with-brand`, OCA product_brand) and products, whose
/// type fields differ by version.
fn product_models(v: u32, brand: bool) -> Vec<ModelDef> {
    use FType::*;
    let mut models = Vec::new();
    let mut b = model("product.category", "Product Category", "complete_name");
    b.f("name", Char, "Name").req();
    b.f("complete_name", Char, "Complete Name").ro();
    b.m2o("parent_id", "product.category", "Parent Category");
    models.push(b.build(&["complete_name"]));

    if brand {
        let mut b = model("product.brand", "Product Brand", "name");
        b.f("name", Char, "Brand Name").req();
        models.push(b.build(&["name"]));
    }

    let mut b = model("product.product", "Product Variant", "default_code, name, id");
    b.f("name", Char, "Name").req();
    b.f("default_code", Char, "Internal Reference");
    b.f("barcode", Char, "Barcode");
    b.m2o("categ_id", "product.category", "Product Category").req();
    b.f("list_price", Float, "Sales Price");
    b.alias("lst_price", Float, "Sales Price", "list_price");
    b.f("standard_price", Float, "Cost");
    b.f("active", Boolean, "Active");
    match v {
        16 => {
            let types = [("consu", "Consumable"), ("service", "Service"), ("product", "Storable Product")];
            b.sel("type", "Type", &types).req();
            b.sel("detailed_type", "Product Type", &types).req();
        }
        17 => {
            let types =
                [("consu", "Consumable"), ("service", "Service"), ("product", "Storable Product"), ("combo", "Combo")];
            b.sel("type", "Type", &types).req();
            b.sel("detailed_type", "Product Type", &types).req();
        }
        _ => {
            b.sel("type", "Product Type", &[("consu", "Goods"), ("service", "Service"), ("combo", "Combo")]).req();
            b.f("is_storable", Boolean, "Track Inventory");
        }
    }
    b.m2m("taxes_id", "account.tax", "Sales Taxes");
    b.m2o("company_id", "res.company", "Company");
    b.m2o("product_tmpl_id", "product.template", "Product Template").req();
    if brand {
        b.m2o("product_brand_id", "product.brand", "Brand");
    }
    models.push(b.build(&["[code]", "default_code", "name"]));
    models
}

/// Partner tags and partners (contacts), whose fields differ by version; `x_region_code`
/// with `--with-region-code`.
fn partner_models(v: u32, region_code: bool) -> Vec<ModelDef> {
    use FType::*;
    let mut models = Vec::new();
    // Partner tags: what write-back (scout.tag_customers) creates and links.
    let mut b = model("res.partner.category", "Partner Tags", "name");
    b.f("name", Char, "Name").req();
    b.f("color", Integer, "Color");
    b.m2o("parent_id", "res.partner.category", "Parent Category");
    b.f("active", Boolean, "Active");
    models.push(b.build(&["name"]));

    let mut b = model("res.partner", "Contact", "complete_name ASC, id DESC");
    b.f("name", Char, "Name");
    b.f("complete_name", Char, "Complete Name").ro();
    let mut address_types = vec![
        ("contact", "Contact"),
        ("invoice", "Invoice Address"),
        ("delivery", "Delivery Address"),
        ("other", "Other Address"),
    ];
    if v == 16 {
        address_types.push(("private", "Private Address"));
    }
    b.sel("type", "Address Type", &address_types);
    b.f("is_company", Boolean, "Is a Company");
    b.m2o("parent_id", "res.partner", "Related Company");
    b.f("street", Char, "Street");
    b.f("street2", Char, "Street2");
    b.f("city", Char, "City");
    b.f("zip", Char, "Zip");
    b.m2o("state_id", "res.country.state", "State");
    b.m2o("country_id", "res.country", "Country");
    b.f("email", Char, "Email");
    b.f("phone", Char, "Phone");
    if v <= 18 {
        b.f("mobile", Char, "Mobile");
    }
    b.f("active", Boolean, "Active");
    b.m2o("company_id", "res.company", "Company");
    b.f("customer_rank", Integer, "Customer Rank");
    b.m2m("category_id", "res.partner.category", "Tags");
    if region_code {
        b.sel("x_region_code", "Region Code", REGION_CODES);
    }
    models.push(b.build(&["complete_name"]));
    models
}

/// The point of sale's setup: its configurations (stores), sessions and payment methods.
fn pos_setup_models() -> Vec<ModelDef> {
    use FType::*;
    let mut models = Vec::new();
    let mut b = model("pos.config", "Point of Sale Configuration", "id");
    b.f("name", Char, "Point of Sale").req();
    b.m2o("company_id", "res.company", "Company").req();
    b.m2o("currency_id", "res.currency", "Currency").ro();
    b.f("active", Boolean, "Active");
    models.push(b.build(&["name"]));

    let mut b = model("pos.session", "Point of Sale Session", "id desc");
    b.f("name", Char, "Session ID").req().ro();
    b.m2o("config_id", "pos.config", "Point of Sale").req().ro();
    b.sel(
        "state",
        "Status",
        &[
            ("opening_control", "Opening Control"),
            ("opened", "In Progress"),
            ("closing_control", "Closing Control"),
            ("closed", "Closed & Posted"),
        ],
    )
    .req()
    .ro();
    b.f("start_at", Datetime, "Opening Date").ro();
    b.f("stop_at", Datetime, "Closing Date").ro();
    b.m2o("user_id", "res.users", "Opened By").req();
    b.m2o("company_id", "res.company", "Company").ro();
    models.push(b.build(&["name"]));

    let mut b = model("pos.payment.method", "Point of Sale Payment Methods", "sequence, id");
    b.f("name", Char, "Method").req();
    b.sel("type", "Type", &[("cash", "Cash"), ("bank", "Bank"), ("pay_later", "Customer Account")]);
    b.f("is_cash_count", Boolean, "Cash");
    b.m2o("company_id", "res.company", "Company");
    b.f("active", Boolean, "Active");
    models.push(b.build(&["name"]));
    models
}

/// The point of sale's orders, their lines and payments (pos.order's fields differ by
/// version).
fn pos_order_models(v: u32) -> Vec<ModelDef> {
    use FType::*;
    let mut models = Vec::new();
    let mut b = model("pos.order", "Point of Sale Orders", "date_order desc, name desc, id desc");
    b.f("name", Char, "Order Ref").req().ro();
    b.f("pos_reference", Char, "Receipt Number").ro();
    b.f("date_order", Datetime, "Date").ro();
    b.m2o("partner_id", "res.partner", "Customer");
    b.m2o("session_id", "pos.session", "Session").req().ro();
    b.m2o("config_id", "pos.config", "Point of Sale").ro();
    b.m2o("company_id", "res.company", "Company").req().ro();
    b.m2o("currency_id", "res.currency", "Currency").ro();
    b.m2o("user_id", "res.users", "Employee");
    let amount = if v >= 18 { Monetary } else { Float };
    b.f("amount_total", amount, "Total").req().ro();
    b.f("amount_tax", amount, "Taxes").req().ro();
    b.f("amount_paid", amount, "Paid").req().ro();
    b.f("amount_return", amount, "Returned").req().ro();
    let mut states = vec![("draft", "New"), ("cancel", "Cancelled"), ("paid", "Paid"), ("done", "Posted")];
    if v <= 18 {
        states.push(("invoiced", "Invoiced"));
    }
    b.sel("state", "Status", &states).ro();
    b.o2m("lines", "pos.order.line", "order_id", "Order Lines").ro();
    b.o2m("payment_ids", "pos.payment", "pos_order_id", "Payments").ro();
    if v >= 18 {
        b.f("uuid", Char, "Uuid").ro();
    }
    models.push(b.build(&["name"]));

    let mut b = model("pos.order.line", "Point of Sale Order Lines", "id");
    b.m2o("order_id", "pos.order", "Order Ref").req();
    b.m2o("product_id", "product.product", "Product").req();
    b.f("full_product_name", Char, "Full Product Name");
    b.f("qty", Float, "Quantity");
    b.f("price_unit", Float, "Unit Price");
    b.f("discount", Float, "Discount (%)");
    b.f("price_subtotal", Float, "Tax Excl.").req().ro();
    b.f("price_subtotal_incl", Float, "Tax Incl.").req().ro();
    b.m2m("tax_ids", "account.tax", "Taxes");
    b.m2o("company_id", "res.company", "Company").ro();
    models.push(b.build(&["full_product_name"]));

    let mut b = model("pos.payment", "Point of Sale Payments", "id desc");
    b.m2o("pos_order_id", "pos.order", "Order").req();
    b.m2o("payment_method_id", "pos.payment.method", "Payment Method").req();
    b.f("amount", Monetary, "Amount").req().ro();
    b.f("payment_date", Datetime, "Date").req().ro();
    b.m2o("session_id", "pos.session", "Session").ro();
    b.f("is_change", Boolean, "Is this payment change?");
    b.m2o("company_id", "res.company", "Company").ro();
    models.push(b.build(&["payment_date"]));
    models
}

/// Technical models a client reads: system parameters (no access), models and external ids.
fn technical_models() -> Vec<ModelDef> {
    use FType::*;
    let mut models = Vec::new();
    let mut b = model("ir.config_parameter", "System Parameter", "key");
    b.f("key", Char, "Key").req();
    b.f("value", Text, "Value").req();
    b.no_access();
    models.push(b.build(&["key"]));

    // The models this Odoo has (one record per model of the schema, ir.model included), as a
    // client asks before syncing a model that only some Odoo databases have (product.brand).
    let mut b = model("ir.model", "Models", "model");
    b.f("model", Char, "Model").req();
    b.f("name", Char, "Model Description").req();
    models.push(b.build(&["name"]));

    // External ids (`module.name` -> record), as `load` finds and registers them.
    let mut b = model("ir.model.data", "Model Data", "module, model, name");
    b.f("name", Char, "External Identifier").req();
    b.f("module", Char, "Module").req();
    b.f("model", Char, "Model Name").req();
    b.f("res_id", Integer, "Record ID");
    models.push(b.build(&["name"]));
    models
}

/// Odoo 17+'s `base_automation`: fields as records, automation rules and server actions
/// (webhook.rs fires them).
fn automation_models() -> Vec<ModelDef> {
    use FType::*;
    let mut models = Vec::new();
    // One record per field of every model (generated), as a client looks up field ids.
    let mut b = model("ir.model.fields", "Fields", "name");
    b.f("name", Char, "Field Name").req();
    b.f("field_description", Char, "Field Label").req();
    b.f("model", Char, "Model Name").req();
    b.m2o("model_id", "ir.model", "Model").req();
    b.f("ttype", Char, "Field Type").req();
    b.f("relation", Char, "Related Model");
    models.push(b.build(&["field_description"]));

    let mut b = model("base.automation", "Automation Rule", "sequence");
    b.f("name", Char, "Automation Rule Name").req();
    b.m2o("model_id", "ir.model", "Model").req();
    b.sel("trigger", "Trigger", AUTOMATION_TRIGGERS).req();
    b.m2m("trigger_field_ids", "ir.model.fields", "Trigger Fields");
    b.o2m("action_server_ids", "ir.actions.server", "base_automation_id", "Actions To Do");
    b.f("active", Boolean, "Active");
    b.f("filter_domain", Text, "Apply on");
    b.f("filter_pre_domain", Text, "Before Update Domain");
    models.push(b.build(&["name"]));

    let mut b = model("ir.actions.server", "Server Actions", "sequence,name");
    // Computed for actions of an automation rule (base_automation's _compute_name).
    b.f("name", Char, "Action Name");
    b.m2o("model_id", "ir.model", "Model").req();
    b.sel("state", "Type", SERVER_ACTION_STATES).req();
    b.sel(
        "usage",
        "Usage",
        &[
            ("ir_actions_server", "Server Action"),
            ("ir_cron", "Scheduled Action"),
            ("base_automation", "Automation Rule"),
        ],
    )
    .req();
    b.f("webhook_url", Char, "Webhook URL");
    b.m2m("webhook_field_ids", "ir.model.fields", "Webhook Fields");
    b.m2o("base_automation_id", "base.automation", "Automation Rule");
    b.f("sequence", Integer, "Sequence");
    b.f("code", Text, "Python Code");
    models.push(b.build(&["name"]));
    models
}

/// Points each relational field at its model's index (`rel_model`); None for a relation to a
/// model that does not exist here.
fn resolve_relations(models: &mut [ModelDef], by_name: &HashMap<&'static str, usize>) {
    // product.template is not a model of its own here: a template shares its variant's id
    // (one variant per template), so its display name is the product's name.
    fn alias(rel: &str) -> &str {
        if rel == "product.template" {
            "product.product"
        } else {
            rel
        }
    }
    let resolved: Vec<Vec<Option<usize>>> = models
        .iter()
        .map(|m| m.fields.iter().map(|f| f.relation.and_then(|r| by_name.get(alias(r)).copied())).collect())
        .collect();
    for (m, rels) in models.iter_mut().zip(resolved) {
        for (f, r) in m.fields.iter_mut().zip(rels) {
            f.rel_model = r;
        }
    }
}

/// Per child model, the one2many fields of other models that mirror one of its many2ones
/// (`Inverse`): the records a deletion of the parent cascades to (defaults.rs).
fn one2many_inverses(models: &[ModelDef]) -> Vec<Vec<Inverse>> {
    let mut inverses = vec![Vec::new(); models.len()];
    for (pi, m) in models.iter().enumerate() {
        for f in &m.fields {
            if let (FType::One2many, Some(child), Some(inv), Some(pcol)) =
                (f.ftype, f.rel_model, f.relation_field, f.col())
            {
                if let Some(ccol) = models[child].fdef(inv).and_then(|cf| cf.col()) {
                    inverses[child].push(Inverse { child_col: ccol, parent_model: pi, parent_col: pcol });
                }
            }
        }
    }
    inverses
}
