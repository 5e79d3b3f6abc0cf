//! The audit record reader (`Record::from_json`, used by `igos audit aggregate` on every
//! store file) on arbitrary bytes. A record that reads must write back (`to_json`) and read
//! again to the same record. Nothing may panic or hang.
#![no_main]

use igos::audit::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Record::from_json(data) {
        let json = r.to_json();
        let again = Record::from_json(json.as_bytes()).expect("a written record reads back");
        assert_eq!(again, r, "record round trip");
    }
});
