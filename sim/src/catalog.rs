//! Static reference data for the generator: Philippine stores, cities and regions, names, and
//! a retail catalogue (departments, subcategories, brands).

/// (store name, city, company id)
pub const STORES: &[(&str, &str, u32)] = &[
    ("SM Megamall Store", "Mandaluyong", 1),
    ("SM North EDSA Store", "Quezon City", 1),
    ("Glorietta Store", "Makati", 1),
    ("Trinoma Store", "Quezon City", 1),
    ("SM Mall of Asia Store", "Pasay", 1),
    ("Robinsons Galleria Store", "Pasig", 1),
    ("Alabang Town Center Store", "Muntinlupa", 1),
    ("SM City Cebu Store", "Cebu City", 2),
    ("Ayala Center Cebu Store", "Cebu City", 2),
    ("SM City Iloilo Store", "Iloilo City", 2),
    ("Abreeza Davao Store", "Davao City", 1),
    ("SM City Baguio Store", "Baguio", 1),
    ("SM City Clark Store", "Angeles", 1),
    ("Robinsons Place Manila Store", "Manila", 1),
    ("SM Lanang Davao Store", "Davao City", 1),
    ("Limketkai Cagayan de Oro Store", "Cagayan de Oro", 1),
    ("SM City Bacolod Store", "Bacolod", 2),
    ("Vista Mall Taguig Store", "Taguig", 1),
    ("Festival Mall Store", "Muntinlupa", 1),
    ("SM City Sta. Rosa Store", "Santa Rosa", 1),
];

/// (city, province, zip, region code, weight)
pub const CITIES: &[(&str, &str, &str, &str, u32)] = &[
    ("Manila", "Metro Manila", "1000", "NCR", 6),
    ("Quezon City", "Metro Manila", "1100", "NCR", 8),
    ("Makati", "Metro Manila", "1226", "NCR", 5),
    ("Pasig", "Metro Manila", "1600", "NCR", 4),
    ("Taguig", "Metro Manila", "1630", "NCR", 4),
    ("Mandaluyong", "Metro Manila", "1550", "NCR", 3),
    ("Pasay", "Metro Manila", "1300", "NCR", 3),
    ("Muntinlupa", "Metro Manila", "1770", "NCR", 3),
    ("Parañaque", "Metro Manila", "1700", "NCR", 3),
    ("Caloocan", "Metro Manila", "1400", "NCR", 3),
    ("Baguio", "Benguet", "2600", "CAR", 2),
    ("Laoag", "Ilocos Norte", "2900", "R1", 1),
    ("San Fernando", "La Union", "2500", "R1", 1),
    ("Tuguegarao", "Cagayan", "3500", "R2", 1),
    ("Angeles", "Pampanga", "2009", "R3", 2),
    ("Malolos", "Bulacan", "3000", "R3", 2),
    ("Santa Rosa", "Laguna", "4026", "R4A", 2),
    ("Calamba", "Laguna", "4027", "R4A", 2),
    ("Bacoor", "Cavite", "4102", "R4A", 2),
    ("Antipolo", "Rizal", "1870", "R4A", 2),
    ("Batangas City", "Batangas", "4200", "R4A", 1),
    ("Puerto Princesa", "Palawan", "5300", "R4B", 1),
    ("Legazpi", "Albay", "4500", "R5", 1),
    ("Naga", "Camarines Sur", "4400", "R5", 1),
    ("Iloilo City", "Iloilo", "5000", "R6", 2),
    ("Bacolod", "Negros Occidental", "6100", "R6", 2),
    ("Cebu City", "Cebu", "6000", "R7", 4),
    ("Mandaue", "Cebu", "6014", "R7", 2),
    ("Lapu-Lapu", "Cebu", "6015", "R7", 1),
    ("Tagbilaran", "Bohol", "6300", "R7", 1),
    ("Tacloban", "Leyte", "6500", "R8", 1),
    ("Zamboanga City", "Zamboanga del Sur", "7000", "R9", 1),
    ("Cagayan de Oro", "Misamis Oriental", "9000", "R10", 2),
    ("Davao City", "Davao del Sur", "8000", "R11", 3),
    ("General Santos", "South Cotabato", "9500", "R12", 1),
    ("Butuan", "Agusan del Norte", "8600", "R13", 1),
    ("Cotabato City", "Maguindanao del Norte", "9600", "BARMM", 1),
];

pub const FIRST_NAMES: &[&str] = &[
    "Maria", "Juan", "Jose", "Ana", "Mark", "Angelica", "John Paul", "Kristine", "Carlo", "Jasmine", "Miguel",
    "Patricia", "Rafael", "Camille", "Paolo", "Nicole", "Joshua", "Bea", "Christian", "Andrea", "Gabriel",
    "Sofia", "Daniel", "Isabel", "Renz", "Trisha", "Ramon", "Luz", "Teresa", "Emmanuel", "Grace", "Jerome",
    "Rosario", "Danilo", "Marites", "Rogelio", "Jocelyn", "Nestor", "Lorna", "Ferdinand",
];

pub const LAST_NAMES: &[&str] = &[
    "Santos", "Reyes", "Cruz", "Bautista", "Ocampo", "Garcia", "Mendoza", "Torres", "Tomas", "Andres",
    "Castillo", "Flores", "Villanueva", "Ramos", "Castro", "Rivera", "Aquino", "Navarro", "Salazar", "Mercado",
    "Dela Cruz", "De Leon", "Del Rosario", "Gonzales", "Lopez", "Aguilar", "Pascual", "Soriano", "Fernandez",
    "Domingo", "Gutierrez", "Dizon", "Manalo", "Lim", "Tan", "Sy", "Go", "Chua", "Peñaflor", "Ibañez",
];

pub const COMPANY_SUFFIXES: &[&str] = &[
    "Trading", "Enterprises", "Sari-Sari Store", "Food Corp.", "Hardware", "Catering Services", "Bakeshop",
    "Carinderia", "General Merchandise",
];

pub const STREETS: &[&str] = &[
    "Rizal Ave.", "Mabini St.", "Bonifacio St.", "Quezon Blvd.", "Aguinaldo Hwy.", "Luna St.", "Del Pilar St.",
    "Burgos St.", "Osmeña Blvd.", "Magsaysay Ave.", "Roxas Blvd.", "Taft Ave.", "Katipunan Ave.", "Shaw Blvd.",
    "Ortigas Ave.", "Gen. Luna St.", "J.P. Laurel Ave.", "Session Rd.",
];

pub const BARANGAYS: &[&str] = &[
    "Brgy. San Antonio", "Brgy. Poblacion", "Brgy. San Isidro", "Brgy. Santo Niño", "Brgy. Bagong Silang",
    "Brgy. San Roque", "Brgy. Mabini", "Brgy. Malinta", "Brgy. Lahug", "Brgy. Talamban",
];

pub const EMAIL_DOMAINS: &[&str] = &["gmail.com", "yahoo.com", "outlook.com", "example.ph"];

pub const VARIANTS: &[&str] = &[
    "Original", "Classic", "Spicy", "Sweet", "Lite", "Extra", "Family Pack", "Value Pack", "Premium", "Choco",
    "Ube", "Mango", "Calamansi", "Buko Pandan", "Cheese", "Barbecue", "Sour Cream", "Regular", "Strawberry",
];

/// Flags on a subcategory.
pub const WEIGHED: u8 = 1;
pub const EXEMPT: u8 = 2;
pub const SERVICE: u8 = 4;

pub struct Sub {
    pub name: &'static str,
    pub items: &'static [&'static str],
    pub sizes: &'static [&'static str],
    /// Shelf price range, VAT included, in pesos.
    pub lo: u32,
    pub hi: u32,
    pub flags: u8,
}

const fn s(name: &'static str, items: &'static [&'static str], sizes: &'static [&'static str], lo: u32, hi: u32, flags: u8) -> Sub {
    Sub { name, items, sizes, lo, hi, flags }
}

/// (department, code prefix, subcategories)
pub const DEPARTMENTS: &[(&str, &str, &[Sub])] = &[
    ("Beverages", "BEV", &[
        s("Soft Drinks", &["Cola", "Lemon-Lime Soda", "Orange Soda", "Root Beer"], &["237ml", "330ml", "1L", "1.5L"], 15, 95, 0),
        s("Juices", &["Pineapple Juice", "Four Seasons Drink", "Mango Nectar", "Orange Juice Drink"], &["200ml", "240ml", "1L"], 12, 120, 0),
        s("Coffee", &["3-in-1 Coffee", "Instant Coffee", "Iced Coffee", "Barako Ground Coffee"], &["10x20g", "30x20g", "100g", "250g"], 45, 420, 0),
        s("Tea", &["Green Tea", "Black Tea", "Salabat Ginger Tea", "Milk Tea"], &["25 bags", "500ml", "1L"], 30, 180, 0),
        s("Bottled Water", &["Purified Water", "Mineral Water", "Alkaline Water"], &["330ml", "500ml", "1L", "6L"], 10, 95, 0),
        s("Energy Drinks", &["Energy Drink", "Sports Drink", "Isotonic Drink"], &["240ml", "350ml", "500ml"], 20, 75, 0),
    ]),
    ("Snacks", "SNK", &[
        s("Chips", &["Potato Chips", "Corn Chips", "Cheese Rings", "Prawn Crackers"], &["25g", "60g", "110g", "160g"], 12, 120, 0),
        s("Biscuits", &["Crackers", "Cream Sandwich", "Wafer", "Butter Cookies"], &["10x30g", "250g", "300g"], 8, 160, 0),
        s("Candies", &["Milk Candy", "Yema Candy", "Mint Candy", "Chewing Gum"], &["50 pcs", "100g", "12 pcs"], 10, 95, 0),
        s("Chocolates", &["Chocolate Bar", "Wafer Bar", "Chocolate Coated Peanuts"], &["24g", "40g", "100g"], 15, 180, 0),
        s("Nuts", &["Garlic Peanuts", "Cornick", "Cashew Nuts", "Green Peas"], &["40g", "100g", "220g"], 12, 240, 0),
    ]),
    ("Pantry", "PAN", &[
        s("Instant Noodles", &["Pancit Canton", "Beef Mami", "Chicken Noodle Soup", "Bulalo Noodles"], &["55g", "60g", "70g", "6-pack"], 9, 95, 0),
        s("Canned Goods", &["Corned Beef", "Sardines in Tomato Sauce", "Tuna Flakes", "Meat Loaf", "Vienna Sausage"], &["150g", "155g", "180g", "260g"], 22, 140, 0),
        s("Condiments", &["Soy Sauce", "Cane Vinegar", "Fish Sauce", "Banana Ketchup", "Oyster Sauce"], &["200ml", "385ml", "1L", "1 gal"], 14, 210, 0),
        s("Rice & Grains", &["Sinandomeng Rice", "Jasmine Rice", "Dinorado Rice", "Brown Rice"], &["per kg"], 48, 75, WEIGHED | EXEMPT),
        s("Cooking Oil", &["Coconut Oil", "Palm Olein", "Canola Oil"], &["500ml", "1L", "2L"], 55, 320, 0),
        s("Baking", &["All-Purpose Flour", "Brown Sugar", "Refined Sugar", "Baking Powder"], &["250g", "500g", "1kg"], 20, 140, 0),
    ]),
    ("Dairy & Chilled", "DRY", &[
        s("Milk", &["Evaporated Milk", "Condensed Milk", "Fresh Milk", "Powdered Milk"], &["154ml", "300ml", "1L", "700g"], 25, 420, 0),
        s("Cheese", &["Cheddar Cheese", "Quickmelt Cheese", "Cream Cheese"], &["160g", "200g", "440g"], 45, 260, 0),
        s("Yogurt", &["Drinking Yogurt", "Greek Yogurt", "Yogurt Cup"], &["80ml", "100g", "500g"], 18, 180, 0),
        s("Ice Cream", &["Ice Cream Tub", "Ice Cream Cone", "Ice Cream Sandwich"], &["90ml", "750ml", "1.3L"], 25, 380, 0),
        s("Processed Meat", &["Hotdog", "Longganisa", "Tocino", "Ham"], &["250g", "500g", "1kg"], 65, 420, 0),
    ]),
    ("Personal Care", "PCR", &[
        s("Shampoo", &["Shampoo", "Conditioner", "Anti-Dandruff Shampoo"], &["12ml sachet", "170ml", "340ml"], 7, 320, 0),
        s("Soap", &["Bath Soap", "Antibacterial Soap", "Body Wash"], &["60g", "135g", "400ml"], 25, 260, 0),
        s("Toothpaste", &["Toothpaste", "Toothbrush", "Mouthwash"], &["50g", "150g", "250ml"], 35, 240, 0),
        s("Deodorant", &["Roll-On Deodorant", "Deodorant Spray", "Powder Deodorant"], &["25ml", "40ml", "150ml"], 45, 260, 0),
        s("Skin Care", &["Lotion", "Facial Wash", "Sunscreen", "Petroleum Jelly"], &["50ml", "100ml", "200ml"], 55, 480, 0),
    ]),
    ("Household", "HSH", &[
        s("Detergent", &["Powder Detergent", "Liquid Detergent", "Fabric Conditioner", "Bar Soap"], &["66g", "1kg", "2kg", "1L"], 9, 420, 0),
        s("Dishwashing", &["Dishwashing Liquid", "Dishwashing Paste", "Sponge"], &["250ml", "400g", "2 pcs"], 25, 180, 0),
        s("Cleaners", &["Bleach", "Toilet Cleaner", "Floor Wax", "Insect Spray"], &["250ml", "500ml", "1L"], 30, 320, 0),
        s("Tissue & Paper", &["Bathroom Tissue", "Facial Tissue", "Paper Towel", "Table Napkin"], &["4 rolls", "12 rolls", "200 pulls"], 35, 280, 0),
    ]),
    ("Baby", "BBY", &[
        s("Diapers", &["Baby Diapers", "Pants Diapers", "Baby Wipes"], &["S 20s", "M 24s", "L 30s", "XL 40s"], 85, 980, 0),
        s("Baby Food", &["Infant Formula", "Baby Cereal", "Toddler Milk"], &["150g", "350g", "1.2kg"], 95, 1450, 0),
    ]),
    ("Health", "HLT", &[
        s("Vitamins", &["Vitamin C", "Multivitamins", "Zinc + Vitamin C", "Fish Oil"], &["10 caps", "30 tabs", "100 tabs"], 45, 890, EXEMPT),
        s("Pain Relief", &["Paracetamol", "Ibuprofen", "Mefenamic Acid"], &["10 tabs", "20 tabs"], 25, 240, EXEMPT),
        s("First Aid", &["Adhesive Bandage", "Isopropyl Alcohol", "Cotton Balls", "Povidone-Iodine"], &["10s", "60ml", "250ml", "500ml"], 15, 180, 0),
    ]),
    ("Frozen", "FRZ", &[
        s("Frozen Meat", &["Pork Belly", "Chicken Thigh Fillet", "Beef Tapa", "Ground Pork"], &["per kg"], 220, 560, WEIGHED),
        s("Frozen Seafood", &["Bangus Belly", "Shrimp", "Squid Rings", "Tilapia"], &["per kg"], 180, 620, WEIGHED),
    ]),
    ("Services", "SRV", &[
        s("Store Services", &["Delivery Fee", "Gift Wrapping", "Eco Bag", "Loyalty Card", "Bills Payment Fee"], &[""], 5, 150, SERVICE),
    ]),
];

/// (brand, department index)
pub const BRANDS: &[(&str, usize)] = &[
    ("Coca-Cola", 0), ("Zesto", 0), ("Del Monte", 0), ("Nescafé", 0), ("Kopiko", 0), ("Great Taste", 0), ("C2", 0),
    ("Wilkins", 0), ("Cobra", 0), ("Jack 'n Jill", 1), ("Oishi", 1), ("Rebisco", 1), ("Monde", 1), ("Ricoa", 1),
    ("Regent", 1), ("Lucky Me!", 2), ("Payless", 2), ("Argentina", 2), ("Ligo", 2), ("Century", 2), ("Datu Puti", 2),
    ("Silver Swan", 2), ("UFC", 2), ("Minola", 2), ("Alaska", 3), ("Magnolia", 3), ("Selecta", 3), ("Eden", 3),
    ("Purefoods", 3), ("CDO", 3), ("Palmolive", 4), ("Safeguard", 4), ("Colgate", 4), ("Hapee", 4), ("Silka", 4),
    ("Surf", 5), ("Downy", 5), ("Joy", 5), ("Zonrox", 5), ("Sanicare", 5), ("EQ", 6), ("Bonna", 6), ("Ceelin", 7),
    ("Biogesic", 7), ("Bounty Fresh", 8), ("Mekeni", 8),
];
