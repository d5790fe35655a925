//! ferrota-ota-checks on a chip's instruction set, under QEMU: riscv32imc (the ESP32-C3's ISA;
//! atomics trap) on `virt`, thumbv6m (the RP2040's) on `mps2-an385` with unaligned accesses
//! trapping as on a Cortex-M0+.
//!
//! It runs every check from the index given on the semihosting command line, printing
//! `ok <index> <name> <stack bytes>` for each; a failing check prints
//! `FAILED <index> <name>: <panic>` and exits with status 101, and scripts/test-on-target starts
//! it again after that check (a no_std panic can't be caught). With `trap` on the command line
//! it does what the chip can't (see [`trap`]) and must fail. The stack a check used is measured
//! by painting the free stack before it and finding the deepest word it overwrote.
#![no_std]
#![no_main]

use core::mem::MaybeUninit;
use embedded_alloc::LlffHeap as Heap;
use semihosting::{print, println};
// Its single-core critical section, for the allocator.
#[cfg(target_arch = "arm")]
use cortex_m as _;

#[global_allocator]
static HEAP: Heap = Heap::empty();
/// The checks' heap: NOR flash models, sample images, transcripts.
const HEAP_SIZE: usize = 2 * 1024 * 1024;

/// What an unused stack word holds.
const PAINT: u32 = 0x5AA5_C33C;
/// Left unpainted below the runner's own frame.
const MARGIN: usize = 32;

/// The index and name of the check under way, for the panic handler.
static mut CURRENT: (usize, &str) = (0, "");

#[cfg(target_arch = "riscv32")]
#[riscv_rt::entry]
fn main() -> ! {
    run()
}

#[cfg(target_arch = "arm")]
#[cortex_m_rt::entry]
fn main() -> ! {
    // SAFETY: the Configuration and Control Register's UNALIGN_TRP bit (3): every unaligned
    // access faults, as it does on the RP2040's Cortex-M0+ (QEMU's M3 would allow it).
    unsafe { core::ptr::write_volatile(0xE000_ED14 as *mut u32, core::ptr::read_volatile(0xE000_ED14 as *const u32) | 1 << 3) };
    run()
}

#[cfg(target_arch = "arm")]
#[cortex_m_rt::exception]
unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
    fail(format_args!("hard fault (an unaligned access?) at pc {:#010x}", frame.pc()))
}

#[cfg(target_arch = "riscv32")]
#[export_name = "ExceptionHandler"]
fn exception(_frame: &riscv_rt::TrapFrame) -> ! {
    let (cause, pc): (usize, usize);
    // SAFETY: reads the trap's cause and address.
    unsafe { core::arch::asm!("csrr {}, mcause", "csrr {}, mepc", out(reg) cause, out(reg) pc) };
    fail(format_args!("exception {cause} (2: an illegal instruction, e.g. an atomic) at pc {pc:#010x}"))
}

/// Does what the chip can't, to show the emulator traps it as the chip would: an atomic
/// read-modify-write on riscv32imc (no `A` extension on the ESP32-C3), an unaligned word
/// read on the Cortex-M0+.
fn trap() -> ! {
    // SAFETY: this is meant to fault.
    unsafe {
        CURRENT = (0, "trap");
        #[cfg(target_arch = "riscv32")]
        core::arch::asm!(".word 0x0001202F"); // amoadd.w zero, zero, (sp)
        #[cfg(target_arch = "arm")]
        {
            let word = [0u32; 2];
            let at = (word.as_ptr() as *const u8).add(1);
            core::arch::asm!("ldr {0}, [{1}]", out(reg) _, in(reg) at);
        }
    }
    println!("no trap");
    semihosting::process::exit(0)
}

fn run() -> ! {
    {
        static mut MEMORY: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: called once, before anything allocates; MEMORY is used by nothing else.
        unsafe { HEAP.init(core::ptr::addr_of_mut!(MEMORY) as usize, HEAP_SIZE) }
    }
    let Some(start) = first_check() else { trap() };
    let checks = ferrota_ota_checks::ALL.iter().flat_map(|module| module.iter());
    for (index, &(name, check)) in checks.enumerate().skip(start) {
        // SAFETY: one thread; the panic handler only reads it.
        unsafe { CURRENT = (index, name) };
        let bottom = paint();
        check();
        println!("ok {index} {name} {}", stack_used(bottom));
    }
    println!("done");
    semihosting::process::exit(0)
}

/// The index of the first check to run: the command line's last word, or 0; `None` for
/// `trap` (see [`trap`]).
fn first_check() -> Option<usize> {
    let Ok(args) = semihosting::experimental::env::args::<256>() else { return Some(0) };
    match args.filter_map(Result::ok).last() {
        Some("trap") => None,
        Some(word) => Some(word.parse().unwrap_or(0)),
        None => Some(0),
    }
}

/// The lowest address the stack may reach (above the heap and statics).
fn stack_limit() -> usize {
    extern "C" {
        #[cfg(target_arch = "riscv32")]
        #[link_name = "__estack"]
        static BOTTOM: u32;
        #[cfg(target_arch = "arm")]
        #[link_name = "_stack_end"]
        static BOTTOM: u32;
    }
    // Only the symbol's address is taken.
    core::ptr::addr_of!(BOTTOM) as usize
}

/// Paints the free stack below this frame; returns where the painting stops (its top).
#[inline(never)]
fn paint() -> usize {
    let sp = stack_pointer() - MARGIN;
    let mut at = stack_limit().next_multiple_of(4);
    while at < sp {
        // SAFETY: between the statics' end and the live stack: memory nothing uses.
        unsafe { core::ptr::write_volatile(at as *mut u32, PAINT) };
        at += 4;
    }
    sp
}

/// How many bytes below `top` a check overwrote.
fn stack_used(top: usize) -> usize {
    let mut at = stack_limit().next_multiple_of(4);
    // SAFETY: reads the painted region.
    while at < top && unsafe { core::ptr::read_volatile(at as *const u32) } == PAINT {
        at += 4;
    }
    top - at
}

#[inline(always)]
fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads the stack pointer register.
    #[cfg(target_arch = "riscv32")]
    unsafe {
        core::arch::asm!("mv {}, sp", out(reg) sp)
    };
    #[cfg(target_arch = "arm")]
    unsafe {
        core::arch::asm!("mov {}, sp", out(reg) sp)
    };
    sp
}

fn fail(why: core::fmt::Arguments<'_>) -> ! {
    // SAFETY: one thread.
    let (index, name) = unsafe { CURRENT };
    print!("FAILED {index} {name}: ");
    println!("{why}");
    semihosting::process::exit(101)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    fail(format_args!("{info}"))
}
