import { describe, expect, it } from 'vitest';
import { companyKeyOf, recipientKeyOf, registrableDomain } from '../../domain/company.js';
import { senderRelation } from '../../domain/inbound.js';

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

describe('a shared mail host, where each tenant is a company of its own', () => {
  it('Microsoft 365: one tenant’s people are one company, another tenant is not it', () => {
    expect(companyKeyOf({ email: 'ann@contoso.onmicrosoft.com' })).toBe('domain:contoso.onmicrosoft.com');
    expect(companyKeyOf({ email: 'ben@Contoso.OnMicrosoft.com' })).toBe('domain:contoso.onmicrosoft.com');
    expect(companyKeyOf({ email: 'eve@fabrikam.onmicrosoft.com' })).toBe('domain:fabrikam.onmicrosoft.com');
    // A deeper host is still its tenant's; the hybrid routing domain is the tenant's own too.
    expect(companyKeyOf({ email: 'ann@eu.contoso.onmicrosoft.com' })).toBe('domain:contoso.onmicrosoft.com');
    expect(companyKeyOf({ email: 'ann@contoso.mail.onmicrosoft.com' })).toBe('domain:contoso.mail.onmicrosoft.com');
    expect(companyKeyOf({ email: 'ann@contoso.partner.onmschina.cn' })).toBe('domain:contoso.partner.onmschina.cn');
  });

  it.each(['zendesk.com', 'freshdesk.com', 'freshservice.com', 'zohodesk.com', 'kayako.com', 'atlassian.net'])(
    'a help desk at %s: each customer’s subdomain',
    (host) => {
      expect(companyKeyOf({ email: `support@acme.${host}` })).toBe(`domain:acme.${host}`);
      expect(companyKeyOf({ email: `support@globex.${host}` })).not.toBe(companyKeyOf({ email: `support@acme.${host}` }));
    },
  );

  it('the shared host itself is nobody’s company', () => {
    expect(companyKeyOf({ email: 'admin@onmicrosoft.com' })).toBeNull();
    expect(companyKeyOf({ email: 'admin@mail.onmicrosoft.com' })).toBeNull();
    expect(companyKeyOf({ email: 'help@zendesk.com' })).toBeNull();
  });

  it('a lookalike domain is an ordinary one', () => {
    expect(companyKeyOf({ email: 'ann@notonmicrosoft.com' })).toBe('domain:notonmicrosoft.com');
    expect(companyKeyOf({ email: 'ann@eu.notzendesk.com' })).toBe('domain:notzendesk.com');
  });

  it('makes no one at another tenant the lead’s colleague', () => {
    expect(senderRelation('eve@fabrikam.onmicrosoft.com', 'ann@contoso.onmicrosoft.com')).toBe('other');
    expect(senderRelation('agent@globex.zendesk.com', 'support@acme.zendesk.com')).toBe('other');
    expect(senderRelation('ben@contoso.onmicrosoft.com', 'ann@contoso.onmicrosoft.com')).toBe('lead_domain');
  });
});

describe('the registrable domain, the one rule company keys and alignment share', () => {
  it.each([
    ['user@mail.acme.co.uk', 'acme.co.uk'],
    ['acme.co.uk', 'acme.co.uk'],
    ['@Acme.Test', 'acme.test'],
    ['user@acme.test.', 'acme.test'],
    ['shop-one.github.io', 'shop-one.github.io'],
    ['ann@eu.contoso.onmicrosoft.com', 'contoso.onmicrosoft.com'],
    ['acme.zendesk.com', 'acme.zendesk.com'],
  ])('of %s is %s', (input, domain) => {
    expect(registrableDomain(input)).toBe(domain);
  });

  it.each(['', 'user@', 'onmicrosoft.com', 'localhost', '192.0.2.1'])('of %j is none', (input) => {
    expect(registrableDomain(input)).toBeNull();
  });
});

describe('the recipient of an email, for the recipient-domain cap', () => {
  it('is the registrable domain of a company address, whatever its subdomain', () => {
    expect(recipientKeyOf('ann@mail.acme.co.uk')).toBe('domain:acme.co.uk');
    expect(recipientKeyOf('Bob@Sales.ACME.co.uk')).toBe('domain:acme.co.uk');
  });

  it('is the address itself at a free-mail provider: each inbox is one person', () => {
    expect(recipientKeyOf('Ann@Gmail.com')).toBe('address:ann@gmail.com');
    expect(recipientKeyOf('bob@outlook.com')).toBe('address:bob@outlook.com');
  });

  it('is the address when there is no registrable domain', () => {
    expect(recipientKeyOf('root@localhost')).toBe('address:root@localhost');
  });
});
