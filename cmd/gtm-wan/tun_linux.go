package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// openTUN creates the TUN device name inside the network namespace at
// nsPath and returns it. The device lives as long as the file is open
// (it is not persistent), so a crash of gtm-wan removes every device it
// made. IFF_NO_PI: each read and write is one bare IP packet.
func openTUN(nsPath, name string) (*os.File, error) {
	var f *os.File
	err := inNetns(nsPath, func() error {
		// The device is created in the namespace of the thread issuing
		// TUNSETIFF, so everything happens on the switched thread.
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("open /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUN name %q: %w", name, err)
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF %s: %w", name, err)
		}
		// Non-blocking, so the runtime poller waits for packets and Close
		// ends a blocked Read.
		f = os.NewFile(uintptr(fd), "tun:"+name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("TUN in %s: %w", nsPath, err)
	}
	return f, nil
}
