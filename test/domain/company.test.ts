import { describe, expect, it } from 'vitest';
import { companyKeyOf } from '../../domain/company.js';

describe('who a lead’s colleagues are', () => {
  it('people at the same registrable domain, whatever the subdomain (public-suffix list)', () => {
    expect(companyKeyOf({ email: 'rita@sales.acme.co.uk' })).toBe('domain:acme.co.uk');
    expect(companyKeyOf({ email: 'bob@ACME.co.uk' })).toBe('domain:acme.co.uk');
  });

  it('not everyone at a hosting suffix: one customer’s site is not another’s', () => {
    expect(companyKeyOf({ email: 'a@shop-one.github.io' })).not.toBe(companyKeyOf({ email: 'b@shop-two.github.io' }));
  });

  it('no one at a free-mail provider', () => {
    for (const email of ['ann@gmail.com', 'ann@gmx.de', 'ann@yahoo.fr', 'ann@outlook.com']) expect(companyKeyOf({ email })).toBeNull();
  });

  it('the portal’s company id first, over the domain and even for free mail', () => {
    expect(companyKeyOf({ email: 'ann@gmail.com', companyId: 'crm-42' })).toBe('id:crm-42');
    expect(companyKeyOf({ email: 'ann@acme.com', companyId: 'crm-42' })).toBe('id:crm-42');
  });

  it('no one without an email address or a domain', () => {
    expect(companyKeyOf({ email: null })).toBeNull();
    expect(companyKeyOf({ email: 'not-an-address' })).toBeNull();
    expect(companyKeyOf({ email: 'ann@localhost' })).toBeNull();
  });
});
