// Outbound requests to URLs that callers supply (webhook callbacks, worker audio
// downloads) must not reach the service's own network: loopback, private,
// link-local, unique-local and cloud-metadata addresses are refused unless the
// operator allows private addresses explicitly. The check runs on the addresses
// DNS returns, inside the connect itself (a `lookup` for undici's connector), so
// the address checked is the address connected: a name that resolves to a
// public address at one moment and a private one the next (DNS rebinding) gains
// nothing. IP literals skip DNS, so requests check them before connecting.
import dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent } from 'undici';

function rule(name: string, subnets: [string, number, 'ipv4' | 'ipv6'][]): { name: string; list: BlockList } {
  const list = new BlockList();
  for (const [net, prefix, type] of subnets) list.addSubnet(net, prefix, type);
  return { name, list };
}

// Checked in order, so an address is named by its most specific rule. BlockList
// matches IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) against the IPv4 subnets.
const RULES = [
  rule('cloud metadata', [
    ['169.254.169.254', 32, 'ipv4'],
    ['100.100.100.200', 32, 'ipv4'],
    ['fd00:ec2::254', 128, 'ipv6'],
  ]),
  rule('loopback', [
    ['127.0.0.0', 8, 'ipv4'],
    ['::1', 128, 'ipv6'],
  ]),
  rule('private', [
    ['10.0.0.0', 8, 'ipv4'],
    ['172.16.0.0', 12, 'ipv4'],
    ['192.168.0.0', 16, 'ipv4'],
    ['100.64.0.0', 10, 'ipv4'],
  ]),
  rule('link-local', [
    ['169.254.0.0', 16, 'ipv4'],
    ['fe80::', 10, 'ipv6'],
  ]),
  rule('unique-local', [['fc00::', 7, 'ipv6']]),
  rule('reserved (unspecified or multicast)', [
    ['0.0.0.0', 8, 'ipv4'],
    ['224.0.0.0', 4, 'ipv4'],
    ['240.0.0.0', 4, 'ipv4'],
    ['::', 128, 'ipv6'],
    ['ff00::', 8, 'ipv6'],
  ]),
];

/** NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits, which is what it reaches. */
const NAT64 = rule('nat64', [['64:ff9b::', 96, 'ipv6']]).list;

/** The name of the rule that refuses this address, or undefined for a public address. */
export function refusedAddressRule(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (type === 'ipv6' && NAT64.check(address, 'ipv6')) return refusedAddressRule(embeddedIpv4(address));
  return RULES.find((r) => r.list.check(address, type))?.name;
}

function embeddedIpv4(address: string): string {
  const groups = address.split(':');
  const last = groups.at(-1) ?? '';
  if (isIP(last) === 4) return last;
  const lo = Number.parseInt(last || '0', 16);
  const hi = Number.parseInt(groups.at(-2) || '0', 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

/** A refused destination; `rule` names why, for the caller's error message. */
export class AddressNotAllowedError extends Error {
  readonly code = 'ADDRESS_NOT_ALLOWED';
  readonly address: string;
  readonly rule: string;

  constructor(host: string, address: string, rule: string) {
    super(host === address ? `${address} is a ${rule} address` : `${host} resolves to ${address}, a ${rule} address`);
    this.address = address;
    this.rule = rule;
  }
}

/** Throws AddressNotAllowedError if any address is refused. */
export function checkAddresses(host: string, addresses: string[]): void {
  for (const a of addresses) {
    const r = refusedAddressRule(a);
    if (r) throw new AddressNotAllowedError(host, a, r);
  }
}

/** The URL's host without IPv6 brackets, and whether it is an IP literal. */
export function urlHost(url: URL): { host: string; literal: boolean } {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, literal: isIP(host) !== 0 };
}

/** Resolves a URL's host (if not a literal) and checks every address; DNS errors propagate. */
export async function checkUrlAddresses(url: URL): Promise<void> {
  const { host, literal } = urlHost(url);
  const addresses = literal ? [host] : (await dns.promises.lookup(host, { all: true })).map((a) => a.address);
  checkAddresses(host, addresses);
}

/** A dns.lookup for net.connect that refuses a host when any of its addresses is refused. */
export const checkedLookup: LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    try {
      checkAddresses(
        hostname,
        addresses.map((a) => a.address),
      );
    } catch (refused) {
      return callback(refused as NodeJS.ErrnoException, '', 0);
    }
    if (options.all) return (callback as any)(null, addresses);
    callback(null, addresses[0].address, addresses[0].family);
  });
};

/** An undici dispatcher whose connections go only to public addresses (names are checked at connect). */
export function publicAddressAgent(): Agent {
  return new Agent({ connect: { lookup: checkedLookup } });
}
