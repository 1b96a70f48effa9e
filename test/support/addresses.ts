// Addresses outbound requests to caller-supplied URLs must refuse, one or more per class.
/** One address per class, with the rule that must name it. */
export const REFUSED_ADDRESSES: [string, string][] = [
  ['127.0.0.1', 'loopback'],
  ['127.255.0.9', 'loopback'],
  ['10.0.0.1', 'private'],
  ['10.255.255.255', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.254', 'private'],
  ['192.168.1.10', 'private'],
  ['169.254.0.1', 'link-local'],
  ['169.254.169.254', 'cloud metadata'],
  ['::1', 'loopback'],
  ['fc00::1', 'unique-local'],
  ['fd12:3456::1', 'unique-local'],
  ['fd00:ec2::254', 'cloud metadata'],
  ['fe80::1', 'link-local'],
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:a00:1', 'private'],
  ['::ffff:169.254.169.254', 'cloud metadata'],
  ['64:ff9b::c0a8:101', 'private'],
  ['0.0.0.0', 'reserved (unspecified or multicast)'],
  ['::', 'reserved (unspecified or multicast)'],
];

/** How an address appears in a URL's host. */
export const inUrl = (address: string) => (address.includes(':') ? `[${address}]` : address);
