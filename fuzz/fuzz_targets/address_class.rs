#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| superdynamic::fuzzing::address_class(data));
