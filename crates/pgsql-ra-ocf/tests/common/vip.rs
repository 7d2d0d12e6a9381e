//! A stand-in for the virtual IP (`master_ip`) of the real-server tests:
//! [`Vip`] forwards TCP connections to 127.0.0.9 (the nodes' shared port)
//! to the node it is placed on; a move resets the connections it carried,
//! as a VIP leaving a node does.

use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use super::PgNode;

/// The stand-in VIP's address.
pub const VIP: &str = "127.0.0.9";

/// A TCP forwarder on `VIP:port` standing in for the virtual IP.
pub struct Vip {
    state: Arc<Mutex<VipState>>,
}

#[derive(Default)]
struct VipState {
    target: Option<String>,
    carried: Vec<TcpStream>,
}

impl Vip {
    pub fn new(port: u16) -> Vip {
        let listener = TcpListener::bind((VIP, port)).expect("bind the VIP stand-in");
        let state = Arc::new(Mutex::new(VipState::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let target = shared.lock().expect("vip").target.clone();
                let Some(host) = target else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let Ok(server) = TcpStream::connect((host.as_str(), port)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let pipes = (
                    client.try_clone(),
                    server.try_clone(),
                    client.try_clone(),
                    server.try_clone(),
                );
                let (Ok(c1), Ok(s1), Ok(c2), Ok(s2)) = pipes else {
                    continue;
                };
                {
                    let mut st = shared.lock().expect("vip");
                    st.carried.push(client);
                    st.carried.push(server);
                }
                std::thread::spawn(move || pipe(c1, s1));
                std::thread::spawn(move || pipe(s2, c2));
            }
        });
        Vip { state }
    }

    /// Places the VIP on `node` (or nowhere); the connections it carried
    /// are reset.
    pub fn place(&self, node: Option<&PgNode>) {
        let mut st = self.state.lock().expect("vip");
        st.target = node.map(|n| n.host.clone());
        for s in st.carried.drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
