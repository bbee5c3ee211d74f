//! Shared test setup: the app on 127.0.0.1:0 over a fresh store.

#![allow(dead_code)]

use juchu_domain::access::Role;
use juchu_store::Store;
use juchu_store::masters::ProductInput;

pub struct TestApp {
    pub base: String,
    pub store: Store,
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestApp {
    pub async fn start(store: Store) -> TestApp {
        let app =
            juchu_web::Application::bind("127.0.0.1:0", juchu_web::AppState::new(store.clone()))
                .await
                .expect("bind");
        let base = format!("http://{}", app.local_addr());
        let server = tokio::spawn(app.run());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        TestApp {
            base,
            store,
            client,
            server,
        }
    }

    pub async fn token(&self, role: Role) -> String {
        self.store
            .create_api_token(&format!("test-{}", role.code()), role)
            .await
            .unwrap()
            .0
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

pub async fn seed_products(store: &Store) {
    for (code, name, price, rate) in [
        ("TEA-01", "有機緑茶", 1080, 8),
        ("CUP-01", "湯呑み", 3300, 10),
    ] {
        store
            .create_product(ProductInput {
                code: code.into(),
                name: name.into(),
                unit_price: price,
                tax_rate: rate,
                shipping_fee: None,
                payment_fee: None,
                is_bundled_item: false,
                is_subscription: false,
            })
            .await
            .unwrap();
    }
}

pub fn order_body() -> serde_json::Value {
    serde_json::json!({
        "billing": {
            "family_name": "山田", "given_name": "花子", "family_kana": "ヤマダ", "given_kana": "ハナコ",
            "postal_code": "150-0001", "prefecture": "東京都", "address1": "渋谷区神宮前1-2-3",
            "phone": "090-1234-5678", "email": "hanako@example.jp"
        },
        "items": [{"product_code": "TEA-01", "quantity": 2}, {"product_code": "CUP-01", "quantity": 1}],
        "payment_method": "代金引換",
        "carrier": "yamato"
    })
}
