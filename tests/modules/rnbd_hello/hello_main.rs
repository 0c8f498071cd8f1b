// SPDX-License-Identifier: GPL-2.0

//! rnbd_hello: the smallest module of the rnbd-rs shape, a Rust crate of
//! two files linked with a C object into one `.ko`. The `rust-hello`
//! scenario loads it and checks what it prints.

use kernel::prelude::*;

mod c_helper;

module! {
    type: RnbdHello,
    name: "rnbd_hello",
    author: "rnbd-rs developers",
    description: "rnbd-rs build proof: Rust and C in one module",
    license: "GPL",
}

struct RnbdHello {
    answer: i32,
}

impl kernel::Module for RnbdHello {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let answer = c_helper::multiply(6, 7);
        pr_info!("hello from Rust; the C helper says 6 * 7 = {}\n", answer);
        Ok(RnbdHello { answer })
    }
}

impl Drop for RnbdHello {
    fn drop(&mut self) {
        pr_info!("goodbye from Rust (answer was {})\n", self.answer);
    }
}
